"""CMA-ES through pycma (Hansen 2016), with sep-CMA (diagonal covariance) for high dimensions.

Full CMA-ES stores and decomposes a D×D covariance, which is out of reach beyond a few thousand
weights; ``diagonal: true`` uses sep-CMA-ES (Ros & Hansen 2008), linear in D.

pycma draws its samples through its ``randn`` option, here the run's own generator; its ``seed``
option is NaN, so pycma neither seeds nor draws from NumPy's global generator (with the default
``randn`` it would seed it). pycma works in NumPy: x0 goes to the host once, and each population
and recommendation comes back as a float32 tensor on the optimizer's device (``_tensor``).
"""

from __future__ import annotations

import math
from typing import Literal

import cma
import numpy as np
import torch
from pydantic import Field

from dfo_bench.optimizers.base import AskTellOptimizer, SearchDomain
from dfo_bench.params import ParamsModel
from dfo_bench.ranges import log_float, log_int, ranges

FULL_COVARIANCE_MAX_DIM = 5000


class CMAESParams(ParamsModel):
    sigma0: float = Field(0.02, gt=0)
    """Initial step size, in weight units."""
    popsize: int | None = Field(None, ge=2)
    """None: pycma's default, 4 + 3·ln(D)."""
    diagonal: bool = False
    """sep-CMA-ES: diagonal covariance, linear time and memory in D."""
    recommend: Literal["best", "mean"] = "best"
    """Return the best candidate evaluated, or the distribution mean."""


class CMAES(AskTellOptimizer[torch.Tensor]):
    name = "cma-es"
    description = "CMA-ES via pycma; diagonal: true gives sep-CMA-ES for high dimensions"
    Params = CMAESParams
    tuning_ranges = ranges(sigma0=log_float(1e-3, 0.5), popsize=log_int(4, 128))
    params: CMAESParams

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: CMAESParams) -> None:
        super().__init__(search, rng, params)
        if not params.diagonal and self.dim > FULL_COVARIANCE_MAX_DIM:
            raise ValueError(
                f"cma-es: full covariance in {self.dim} dimensions needs {self.dim**2 * 8 / 2**30:.1f} GiB; "
                "set diagonal: true (sep-CMA-ES)"
            )
        options = {
            "randn": self._randn,
            "seed": math.nan,
            "CMA_diagonal": params.diagonal,
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
            "tolx": 0,
            "tolfun": 0,
            "tolfunhist": 0,
            "tolstagnation": math.inf,
            "tolflatfitness": math.inf,
        }
        if params.popsize is not None:
            options["popsize"] = params.popsize
        self._es = cma.CMAEvolutionStrategy(self.x0.cpu().double().numpy(), params.sigma0, options)
        self._asked: list[np.ndarray] = []

    @property
    def popsize(self) -> int:
        return int(self._es.popsize)

    def _randn(self, lam: int, n: int) -> np.ndarray:
        """pycma's source of N(0, I) samples, shape (lam, n): the run's own generator."""
        return self.rng.standard_normal((lam, n))

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        """A pycma array as a float32 tensor on the optimizer's device."""
        return torch.from_numpy(np.asarray(array)).to(torch.float32).to(self.device)

    def _ask(self, n: int) -> torch.Tensor:
        self._asked = self._es.ask()
        return self._tensor(np.stack(self._asked))

    def _tell(self, X: torch.Tensor, losses: torch.Tensor) -> None:
        self._es.tell(self._asked, losses.tolist())

    def recommend(self) -> torch.Tensor:
        if self.params.recommend == "mean" or self._es.result.xbest is None:
            return self._tensor(self._es.mean)
        return self._tensor(self._es.result.xbest)
