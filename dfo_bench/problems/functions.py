"""Classic test functions as problems: sphere, Rosenbrock and Rastrigin.

Neural-network losses say little about whether an optimizer is *correct*: a bug that halves its
progress still "improves the loss". On these functions the optimum is known (f* = 0 at x* = 0,
1, 0), so ``dfo_bench.reference`` can state what each optimizer reliably reaches. They are real
problems, run by the same objective and loop as the networks, and usable in suites; they have
no data, so an evaluation costs one forward-equivalent sample and gradients are exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import torch
from pydantic import Field

from dfo_bench.params import ParamsModel
from dfo_bench.problems.base import DifferentiableProblem, check_split
from dfo_bench.seeding import derive_seed

TestFunction = Callable[[torch.Tensor], torch.Tensor]
"""(P, D) candidates → (P,) values, computed in float64 (near the optimum float32 loses the digits)."""


def sphere(X: torch.Tensor) -> torch.Tensor:
    """Σ x²: convex and isotropic; anything that fails here is broken."""
    return (X.double() ** 2).sum(dim=1)


def rosenbrock(X: torch.Tensor) -> torch.Tensor:
    """Σ 100 (x_{i+1} − x_i²)² + (1 − x_i)²: a curved valley, minimum at (1, …, 1)."""
    X = X.double()
    return (100 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (1 - X[:, :-1]) ** 2).sum(dim=1)


def rastrigin(X: torch.Tensor) -> torch.Tensor:
    """10 D + Σ x² − 10 cos(2πx): a local minimum near every integer point, the global one at 0."""
    X = X.double()
    return 10 * X.shape[1] + (X**2 - 10 * torch.cos(2 * math.pi * X)).sum(dim=1)


class FunctionParams(ParamsModel):
    dim: int = Field(10, ge=2, le=10_000_000)
    radius: float = Field(3.0, gt=0)
    """The seeded start is uniform in [−radius, radius]^dim."""


class FunctionProblem(DifferentiableProblem):
    """A test function of ``dim`` variables; every split's ``loss`` is its value."""

    Params = FunctionParams
    params: FunctionParams
    has_data = False
    formula: ClassVar[staticmethod[[torch.Tensor], torch.Tensor]]
    """The test function (a ``TestFunction``), set with ``staticmethod`` by each subclass."""

    def __init__(
        self,
        params: FunctionParams,
        seed: int,
        device: torch.device,
        start: torch.Tensor | None = None,
        function: TestFunction | None = None,
    ) -> None:
        """``start`` replaces the seeded start, ``function`` the class's formula (for ``GivenFunction``)."""
        super().__init__(params, seed, device)
        self.function = function or type(self).formula
        if start is None:
            rng = np.random.default_rng(derive_seed(seed, self.name, "initial-point"))
            start = torch.from_numpy(rng.uniform(-params.radius, params.radius, params.dim))
        self._x0 = start.to(device, torch.float32)

    @property
    def dim(self) -> int:
        return self._x0.numel()

    @property
    def train_size(self) -> None:
        return None

    def initial_point(self) -> torch.Tensor:
        return self._x0.clone()

    def _evaluate(self, X: torch.Tensor, batch: torch.Tensor | None) -> torch.Tensor:
        return self.function(X)

    def loss_and_grad(self, x: torch.Tensor, batch: torch.Tensor | None) -> tuple[float, torch.Tensor]:
        x = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            value = self.function(x.unsqueeze(0))[0]
            (grad,) = torch.autograd.grad(value, x)
        return float(value.detach()), grad

    def metrics(self, x: torch.Tensor, split: str) -> dict[str, float]:
        check_split(split)
        return {"loss": float(self.function(x.unsqueeze(0))[0])}


class Sphere(FunctionProblem):
    name = "sphere"
    description = "Σ x² (f* = 0 at 0): a sanity check for any optimizer"
    formula = staticmethod(sphere)


class Rosenbrock(FunctionProblem):
    name = "rosenbrock"
    description = "Rosenbrock's curved valley (f* = 0 at 1)"
    formula = staticmethod(rosenbrock)


class Rastrigin(FunctionProblem):
    name = "rastrigin"
    description = "Rastrigin: a local minimum near every integer point (f* = 0 at 0)"
    formula = staticmethod(rastrigin)


class GivenFunction(FunctionProblem):
    """Any (P, D) → (P,) callable, passed as ``function`` (for ``reference.minimize``)."""

    name = "function"
    description = "a function given in code"


FUNCTIONS: dict[str, type[FunctionProblem]] = {cls.name: cls for cls in (Sphere, Rosenbrock, Rastrigin)}
"""Name → problem class; f* = 0 for all three."""
