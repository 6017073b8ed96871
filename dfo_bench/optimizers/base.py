"""The optimizer interface: ask/tell for gradient-free methods, a gradient step for baselines.

An optimizer never sees the data or the budget. The one loop (``dfo_bench.loop.optimize``) calls
``step(objective)`` and nothing else: an ask/tell optimizer asks a population, has the objective
evaluate (and charge) it and tells itself the losses; a gradient optimizer asks the objective for
one minibatch loss and gradient. Public methods do the shared checks and call the small private
hooks that each optimizer implements.

Every tensor an optimizer makes lives on the device of its initial point (the problem's device,
handed over by the runner): on a GPU a population never visits the host.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import numpy as np
import torch

from dfo_bench.domain import TypedDomain
from dfo_bench.moves import Population
from dfo_bench.params import ParamsModel
from dfo_bench.ranges import Ranges, ranges
from dfo_bench.spaces import FullSpaceConfig, SpaceConfig

if TYPE_CHECKING:
    from dfo_bench.objective import Objective

PopulationT = TypeVar("PopulationT", bound=Population)
"""The population type an ask/tell optimizer asks and is told: a matrix, moves, or either."""

GradientFn = Callable[[torch.Tensor, int], tuple[float, torch.Tensor]]
"""(x, batch_size) -> (minibatch loss, gradient); charged to the budget by the objective."""


class Optimizer(ABC):
    """Common constructor shape: initial point (on the problem's device), a seeded generator,
    validated hyper-parameters."""

    name: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[ParamsModel]] = ParamsModel
    version: ClassVar[int] = 1
    """Part of every run id: bump it when a change makes stored results of this optimizer stale."""
    default_space: ClassVar[SpaceConfig] = FullSpaceConfig()
    """The search space (see ``dfo_bench.spaces``) used when a suite names none."""
    default_super_batch: ClassVar[int | None] = None
    """Training samples each evaluation is scored on (circular super-batches) when a suite names
    none; None: the problem's own evaluation batch."""
    objectives: ClassVar[int | None] = 1
    """How many objectives it minimises: 1, or None for any number (multi-objective methods)."""
    tuning_ranges: ClassVar[Ranges] = ranges()
    """The ranges a suite's ``tuning:`` samples by default (``dfo_bench.ranges``), next to
    ``Params``; empty: the optimizer is not tuned (the report says so)."""
    search_kinds: ClassVar[frozenset[str]] = frozenset({"weights"})
    """The kinds of problem it can search (``Problem.search_kind``): ``weights`` (vectors around
    x0), ``typed`` (configurations of a ``TypedDomain``, handed to the constructor as
    ``domain``). A typed-capable class takes ``domain`` as a keyword of ``__init__``."""
    max_dim: ClassVar[int | None] = None
    """The most coordinates it can search (Gaussian-process methods: tens), checked when a suite is
    validated; None: any number."""

    def __init__(self, x0: torch.Tensor, rng: np.random.Generator, params: ParamsModel) -> None:
        if x0.ndim != 1:
            raise ValueError(f"{self.name}: the initial point must be a vector, got shape {tuple(x0.shape)}")
        self.x0 = x0.detach().to(torch.float32)
        self.device = x0.device
        """Where populations are made: the problem's device."""
        self.dim = x0.numel()
        self.rng = rng
        self.params = params

    @classmethod
    def from_config(
        cls,
        x0: torch.Tensor,
        rng: np.random.Generator,
        params: Mapping[str, Any] | ParamsModel,
        domain: TypedDomain | None = None,
    ) -> Optimizer:
        """Build with validated parameters; ``domain``: the typed problem's domain (x0 is then
        its encoded default configuration), None for weights."""
        kind = "weights" if domain is None else "typed"
        if kind not in cls.search_kinds:
            raise ValueError(f"{cls.name} searches {', '.join(sorted(cls.search_kinds))} spaces, not {kind}")
        validated = params if isinstance(params, ParamsModel) else cls.Params(**params)
        if domain is None:
            return cls(x0, rng, validated)
        return cls(x0, rng, validated, domain=domain)  # type: ignore[call-arg]

    def torch_generator(self) -> torch.Generator:
        """A torch generator on this optimizer's device, seeded from its own stream."""
        return torch.Generator(device=self.device).manual_seed(int(self.rng.integers(2**63)))

    @abstractmethod
    def step(self, objective: Objective) -> None:
        """One iteration against ``objective`` (which charges the budget and raises
        ``BudgetExceeded`` when the iteration does not fit)."""

    @abstractmethod
    def recommend(self) -> torch.Tensor:
        """The candidate this optimizer would return now, shape (dim,), on its device."""


class AskTellOptimizer(Optimizer, Generic[PopulationT]):
    """A gradient-free optimizer that proposes populations and learns from their losses.

    Parameterised by what ``_ask`` returns and ``_tell`` receives: ``AskTellOptimizer[torch.Tensor]``
    for (n, dim) matrices, ``AskTellOptimizer[Population]`` for matrices or ``CoordinateMoves``."""

    fixed_population: ClassVar[bool] = True
    """Whether ``ask`` only accepts the optimizer's own population size."""

    @property
    @abstractmethod
    def popsize(self) -> int:
        """The number of candidates ``ask()`` returns by default."""

    def step(self, objective: Objective) -> None:
        """Ask a population, evaluate it, tell the losses. A population cut by the budget is
        evaluated as far as it fits and not told (the objective raises after evaluating it)."""
        X = self.ask()
        self.tell(X, objective.evaluate(X))

    def ask(self, n: int | None = None) -> PopulationT:
        """A population of shape (n, dim) to evaluate (a matrix, or moves from one point); n defaults to ``popsize``."""
        n = self.popsize if n is None else n
        if self.fixed_population and n != self.popsize:
            raise ValueError(f"{self.name} asks whole populations of {self.popsize}, not {n}")
        X = self._ask(n)
        if X.shape != (n, self.dim):
            raise RuntimeError(f"{self.name} asked {tuple(X.shape)}, expected ({n}, {self.dim})")
        return X

    def tell(self, X: PopulationT, losses: torch.Tensor) -> None:
        """Learn from the losses of the population X that ``ask`` returned: shape (P,) for one
        objective, (P, m) for m."""
        P = X.shape[0]
        if losses.shape[:1] != (P,) or losses.ndim > 2 or (self.objectives == 1 and losses.ndim != 1):
            expected = f"({P},)" if self.objectives == 1 else f"({P},) or ({P}, m)"
            raise ValueError(f"{self.name}: {P} candidates but losses of shape {tuple(losses.shape)}, expected {expected}")
        if torch.isnan(losses).any():
            raise FloatingPointError(f"{self.name}: NaN loss among the candidates")
        self._tell(X, losses.to(torch.float64))

    @abstractmethod
    def _ask(self, n: int) -> PopulationT: ...

    @abstractmethod
    def _tell(self, X: PopulationT, losses: torch.Tensor) -> None: ...


class GradientOptimizer(Optimizer):
    """A gradient baseline: each step asks the objective for one minibatch loss and gradient."""

    def step(self, objective: Objective) -> None:
        self._step(objective.loss_and_grad)

    @abstractmethod
    def _step(self, loss_and_grad: GradientFn) -> float:
        """Take one step; returns the minibatch loss before it."""
