"""The optimizer interface: ask/tell for gradient-free methods, a gradient step for baselines.

An optimizer never sees the data or the budget. The one loop (``dfo_bench.loop.optimize``) calls
``step(objective)`` and nothing else: an ask/tell optimizer asks a population, has the objective
evaluate (and charge) it and tells itself the losses; a gradient optimizer asks the objective for
one minibatch loss and gradient. Public methods do the shared checks and call the small private
hooks that each optimizer implements.

Every optimizer is built the same way, ``cls.from_config(search, rng, params)``: the runner hands
it a ``SearchDomain`` (start point, the problem's box, the typed domain of a hyper-parameter
problem), a seeded generator and the entry's parameters; each class reads what it needs of it.
Every tensor an optimizer makes lives on the device of its start point (the problem's device): on
a GPU a population never visits the host.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import numpy as np
import torch

from dfo_bench.domain import TypedDomain
from dfo_bench.losses import any_nan
from dfo_bench.lowrank import WeightLayout
from dfo_bench.moves import Population
from dfo_bench.params import ParamsModel
from dfo_bench.ranges import Ranges, ranges
from dfo_bench.space_config import FullSpaceConfig, SpaceConfig

PopulationT = TypeVar("PopulationT", bound=Population)
"""The population type an ask/tell optimizer asks and is told: a matrix, moves, or either."""

GradientFn = Callable[[torch.Tensor, int], tuple[float, torch.Tensor]]
"""(x, batch_size) -> (minibatch loss, gradient); charged to the budget by the objective."""


class Objective(Protocol):
    """What an optimizer's ``step`` may call: ``dfo_bench.objective.Objective`` (a layer above the
    optimizers) satisfies it; declared here so that optimizers never import that layer."""

    def evaluate(self, Z: Population) -> torch.Tensor:
        """Losses of a population, charged to the budget: (P,) or (P, m) for m objectives."""
        ...

    def loss_and_grad(self, z: torch.Tensor, batch_size: int) -> tuple[float, torch.Tensor]:
        """One minibatch loss and its gradient at ``z``, charged to the budget."""
        ...


@dataclass(frozen=True)
class SearchDomain:
    """Where an optimizer searches, as the runner hands it over."""

    x0: torch.Tensor
    """The start, shape (dim,), on the problem's device: search coordinates (weights, or blocks of
    them), or a typed problem's default configuration, encoded."""
    bounds: tuple[float, float] | None = None
    """The problem's box (low, high) on every coordinate (ZDT1's [0, 1]; a block's value is a
    weight's, so it holds in a blocks space too); None: unbounded weights."""
    typed: TypedDomain | None = None
    """The typed problem's domain (hyper-parameter configurations); None: weights."""
    layout: WeightLayout | None = None
    """Which coordinates are weight matrices, where the problem declares it and the space is the
    full one (what low-rank optimizers perturb); None: no matrices known."""

    @property
    def kind(self) -> str:
        """``weights`` or ``typed``: what ``Optimizer.search_kinds`` lists."""
        return "weights" if self.typed is None else "typed"


class Optimizer(ABC):
    """Common constructor shape: where it searches (start point on the problem's device, box,
    typed domain), a seeded generator, validated hyper-parameters."""

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
    x0), ``typed`` (configurations of a ``TypedDomain``, the ``SearchDomain``'s ``typed``)."""
    max_dim: ClassVar[int | None] = None
    """The most coordinates it can search (Gaussian-process methods: tens), checked when a suite is
    validated; None: any number."""

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: ParamsModel) -> None:
        if search.kind not in self.search_kinds:
            raise ValueError(f"{self.name} searches {', '.join(sorted(self.search_kinds))} spaces, not {search.kind}")
        x0 = search.x0
        if x0.ndim != 1:
            raise ValueError(f"{self.name}: the initial point must be a vector, got shape {tuple(x0.shape)}")
        if search.typed is not None and search.typed.dim != x0.numel():
            raise ValueError(f"{self.name}: x0 has {x0.numel()} values, the typed domain {search.typed.dim} parameters")
        self.x0 = x0.detach().to(torch.float32)
        self.device = x0.device
        """Where populations are made: the problem's device."""
        self.dim = x0.numel()
        self.rng = rng
        self.params = params

    @property
    def asks_moves(self) -> bool:
        """Whether it asks ``CoordinateMoves`` (one-coordinate trials), which a problem may evaluate
        with a compiled kernel: the runner has the problem prepare it before the clock starts."""
        return False

    @property
    def asks_low_rank(self) -> bool:
        """Whether it asks ``LowRankPopulation``s, which a problem may evaluate with a compiled
        kernel: prepared before the clock starts, as for moves."""
        return type(self).low_rank_of(self.params) is not None

    @classmethod
    def low_rank_of(cls, params: ParamsModel) -> int | None:
        """The rank of the low-rank noise these parameters ask for, which a suite checks against the
        problem's weight layout; None: the optimizer needs no layout."""
        return None

    @classmethod
    def from_config(cls, search: SearchDomain, rng: np.random.Generator, params: Mapping[str, Any] | ParamsModel) -> Optimizer:
        """Build on ``search`` with ``params`` validated against ``cls.Params``."""
        return cls(search, rng, params if isinstance(params, ParamsModel) else cls.Params(**params))

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

    tell_dtype: ClassVar[torch.dtype | None] = torch.float64
    """The dtype ``_tell`` receives the losses in; None: as evaluated (float32 for most problems),
    for an optimizer that reads them as Python floats or converts them itself, exact either way (a
    copy costs microseconds)."""

    @property
    @abstractmethod
    def popsize(self) -> int:
        """The number of candidates ``ask()`` returns."""

    def step(self, objective: Objective) -> None:
        """Ask a population, evaluate it, tell the losses. A population cut by the budget is
        evaluated as far as it fits and not told (the objective raises after evaluating it)."""
        X = self.ask()
        self.tell(X, objective.evaluate(X))

    def ask(self) -> PopulationT:
        """A population of shape (popsize, dim) to evaluate (a matrix, or moves from one point)."""
        n = self.popsize
        X = self._ask(n)
        if X.shape != (n, self.dim):
            raise RuntimeError(f"{self.name} asked {tuple(X.shape)}, expected ({n}, {self.dim})")
        return X

    def tell(self, X: PopulationT, losses: torch.Tensor) -> None:
        """Learn from the losses of the population X that ``ask`` returned: shape (P,) for one
        objective, (P, m) for m."""
        self._check_losses(X, losses)
        self._tell(X, losses if self.tell_dtype is None else losses.to(self.tell_dtype))

    def _check_losses(self, X: PopulationT, losses: torch.Tensor) -> None:
        """Refuse losses of the wrong shape, or with a NaN among them."""
        P = X.shape[0]
        if losses.shape[:1] != (P,) or losses.ndim > 2 or (self.objectives == 1 and losses.ndim != 1):
            expected = f"({P},)" if self.objectives == 1 else f"({P},) or ({P}, m)"
            raise ValueError(f"{self.name}: {P} candidates but losses of shape {tuple(losses.shape)}, expected {expected}")
        if any_nan(losses):
            raise FloatingPointError(f"{self.name}: NaN loss among the candidates")

    @abstractmethod
    def _ask(self, n: int) -> PopulationT: ...

    @abstractmethod
    def _tell(self, X: PopulationT, losses: torch.Tensor) -> None: ...


class GradientOptimizer(Optimizer):
    """A gradient baseline: each step asks the objective for one minibatch loss and gradient."""

    def step(self, objective: Objective) -> None:
        self._step(objective.loss_and_grad)

    @classmethod
    def batch_size_of(cls, params: ParamsModel) -> int | None:
        """Training samples of each step's minibatch with these parameters, which a suite checks
        against the training set's size; None: the parameters do not say."""
        return None

    @abstractmethod
    def _step(self, loss_and_grad: GradientFn) -> float:
        """Take one step; returns the minibatch loss before it."""
