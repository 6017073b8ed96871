"""The optimizer interface: ask/tell for gradient-free methods, step for gradient baselines.

An optimizer never sees the data or the budget: the runner asks it for candidates, has the
problem evaluate (and charge) them, and tells it the losses. Public methods do the shared
checks and call the small private hooks that each optimizer implements.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import torch

from dfo_bench.moves import Population
from dfo_bench.params import ParamsModel

GradientFn = Callable[[torch.Tensor, int], tuple[float, torch.Tensor]]
"""(x, batch_size) -> (minibatch loss, gradient); charged to the budget by the problem."""


class Optimizer(ABC):
    """Common constructor shape: initial point, a seeded generator, validated hyper-parameters."""

    name: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[ParamsModel]] = ParamsModel
    default_space: ClassVar[dict[str, Any]] = {"kind": "full"}
    """The search space (see ``dfo_bench.spaces``) used when a suite names none."""

    def __init__(self, x0: torch.Tensor, rng: np.random.Generator, params: ParamsModel) -> None:
        if x0.ndim != 1:
            raise ValueError(f"{self.name}: the initial point must be a vector, got shape {tuple(x0.shape)}")
        self.x0 = x0.detach().to(torch.float32).cpu()
        self.dim = x0.numel()
        self.rng = rng
        self.params = params

    @classmethod
    def from_config(cls, x0: torch.Tensor, rng: np.random.Generator, params: Mapping[str, Any]) -> Optimizer:
        return cls(x0, rng, cls.Params(**params))

    def torch_generator(self) -> torch.Generator:
        """A torch generator drawn from this optimizer's own seeded stream."""
        return torch.Generator().manual_seed(int(self.rng.integers(2**63)))

    @abstractmethod
    def recommend(self) -> torch.Tensor:
        """The candidate this optimizer would return now, shape (dim,)."""


class AskTellOptimizer(Optimizer):
    """A gradient-free optimizer that proposes populations and learns from their losses."""

    fixed_population: ClassVar[bool] = True
    """Whether ``ask`` only accepts the optimizer's own population size."""

    @property
    @abstractmethod
    def popsize(self) -> int:
        """The number of candidates ``ask()`` returns by default."""

    def ask(self, n: int | None = None) -> Population:
        """A population of shape (n, dim) to evaluate (a matrix, or moves from one point); n defaults to ``popsize``."""
        n = self.popsize if n is None else n
        if self.fixed_population and n != self.popsize:
            raise ValueError(f"{self.name} asks whole populations of {self.popsize}, not {n}")
        X = self._ask(n)
        if X.shape != (n, self.dim):
            raise RuntimeError(f"{self.name} asked {tuple(X.shape)}, expected ({n}, {self.dim})")
        return X

    def tell(self, X: Population, losses: torch.Tensor) -> None:
        """Learn from the losses of the population X that ``ask`` returned."""
        if losses.shape != (X.shape[0],):
            raise ValueError(f"{self.name}: {X.shape[0]} candidates but {tuple(losses.shape)} losses")
        if torch.isnan(losses).any():
            raise FloatingPointError(f"{self.name}: NaN loss among the candidates")
        self._tell(X, losses.to(torch.float64))

    @property
    def evaluation_batch(self) -> int | None:
        """Training samples per generation when the optimizer scores on circular super-batches;
        None: the problem's own evaluation batch."""
        return None

    @abstractmethod
    def _ask(self, n: int) -> Population: ...

    @abstractmethod
    def _tell(self, X: Population, losses: torch.Tensor) -> None: ...


class GradientOptimizer(Optimizer):
    """A gradient baseline: each step asks the problem for one minibatch loss and gradient."""

    @abstractmethod
    def step(self, loss_and_grad: GradientFn) -> float:
        """Take one step; returns the minibatch loss before it."""
