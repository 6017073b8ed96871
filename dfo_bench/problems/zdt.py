"""ZDT1 (Zitzler, Deb & Thiele 2000), pymoo's implementation: a two-objective test problem with no data.

f1 = x1, f2 = g·(1 − √(f1/g)) with g = 1 + 9·mean(x2..xn), on [0, 1]^n (n = 30 in the paper).
The Pareto front is f2 = 1 − √f1 (g = 1), convex, so every scalarising method can reach all of
it: the problem on which multi-objective optimizers are checked for correctness, as the test
functions of ``problems/functions.py`` check single-objective ones. Its hypervolume reference
point is (11, 11), as in BoTorch's ZDT problems: far enough out that the fronts of a random
search already have a hypervolume to compare (the true front's is 121 − 1/3 ≈ 120.67).

pymoo evaluates in NumPy: a population goes to the host and its losses come back on the
problem's device, as float64.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field
from pymoo.problems.multi.zdt import ZDT1 as PymooZDT1

from dfo_bench.params import ParamsModel
from dfo_bench.problems.base import Problem, check_split
from dfo_bench.seeding import derive_seed


class ZDT1Params(ParamsModel):
    dim: int = Field(30, ge=2, le=10_000)
    """Variables, each in [0, 1]."""


class ZDT1(Problem):
    name = "zdt1"
    description = "ZDT1 (pymoo): two objectives, 30 variables in [0, 1], convex front f2 = 1 - sqrt(f1); no data"
    Params = ZDT1Params
    params: ZDT1Params
    n_objectives = 2
    has_data = False

    def __init__(self, params: ZDT1Params, seed: int, device: torch.device) -> None:
        super().__init__(params, seed, device)
        self._pymoo = PymooZDT1(n_var=params.dim)
        rng = np.random.default_rng(derive_seed(seed, self.name, "initial-point"))
        self._x0 = torch.from_numpy(rng.uniform(0.0, 1.0, params.dim)).to(device, torch.float32)

    @classmethod
    def declared_dim(cls, params: ParamsModel) -> int | None:
        return params.dim if isinstance(params, ZDT1Params) else None

    @property
    def dim(self) -> int:
        return self.params.dim

    @property
    def train_size(self) -> None:
        return None

    @classmethod
    def bounds_of(cls, params: ParamsModel) -> tuple[float, float]:
        return (0.0, 1.0)

    @property
    def reference_point(self) -> tuple[float, ...]:
        return (11.0, 11.0)

    def initial_point(self) -> torch.Tensor:
        """Uniform in [0, 1]^dim, drawn from the seed."""
        return self._x0.clone()

    def values(self, X: torch.Tensor) -> np.ndarray:
        """(f1, f2) of each row of X (P, dim), clipped into the box first, as a (P, 2) float64 array."""
        x = np.clip(X.detach().cpu().double().numpy(), 0.0, 1.0)
        return np.asarray(self._pymoo.evaluate(x, return_values_of=["F"]), dtype=np.float64).reshape(len(x), 2)

    def _evaluate(self, X: torch.Tensor, batch: torch.Tensor | None) -> torch.Tensor:
        return torch.from_numpy(self.values(X)).to(self.device)

    def metrics(self, x: torch.Tensor, split: str) -> dict[str, float]:
        """Both objectives of x as ``objective_1``, ``objective_2`` (not ``f1``: that is macro-F1 in
        every report), the same on every split: there are no data."""
        check_split(split)
        f1, f2 = self.values(x.unsqueeze(0))[0].tolist()
        return {"objective_1": f1, "objective_2": f2}
