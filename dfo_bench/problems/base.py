"""The problem interface: a network (or a function) evaluated a whole population at a time.

A problem computes; it does not count. The run's ``Objective`` charges the budget, chooses the
training samples each evaluation is scored on and maps search points to weights, then hands the
problem a population on the problem's own device. Capabilities beyond evaluation are explicit
subclasses: ``DifferentiableProblem`` adds the loss and gradient that gradient baselines and
pre-training need, so a suite pairing a gradient optimizer with any other problem is rejected
when it is validated.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import torch

from dfo_bench.domain import TypedDomain
from dfo_bench.lowrank import LowRankPopulation, WeightLayout
from dfo_bench.moves import CoordinateMoves, Population
from dfo_bench.params import ParamsModel
from dfo_bench.problems.metrics import Metric

SPLITS = ("train", "val", "test")


def check_split(split: str) -> None:
    """Raise the one-line error for a split name other than ``SPLITS``."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")


def indexed(device: torch.device) -> torch.device:
    """``device`` as its tensors report it: ``cuda`` becomes ``cuda:<current index>``, so that a
    population made on the problem's device compares equal to it."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


class Problem(ABC):
    """Losses of candidates given as flat float32 vectors of ``dim`` values.

    Subclasses set ``name``, ``description`` and ``Params``, build their data and initial point
    from ``seed`` alone (so every optimizer starts from the same weights on the same split), and
    implement the private hooks.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[ParamsModel]] = ParamsModel
    version: ClassVar[int] = 1
    """Part of every run id: bump it when a change makes stored results of this problem stale."""
    n_objectives: ClassVar[int] = 1
    """Losses per candidate: 1 gives losses of shape (P,), m > 1 gives (P, m)."""
    has_data: ClassVar[bool] = True
    """Whether the loss is over a training set (which super-batches and epochs need); a test
    function has none."""
    reported_metrics: ClassVar[tuple[Metric, ...]] = ()
    """The metrics ``metrics()`` returns besides ``loss``, as the report shows them; the first is
    the primary one (ranked on, its validation values the default targets). None: the test loss
    is primary (test functions)."""
    search_kind: ClassVar[str] = "weights"
    """What a candidate is: ``weights`` (a flat weight vector), or ``typed`` (an encoded
    configuration of a ``TypedDomain``: see ``TypedProblem``). Optimizers list the kinds they
    search in ``Optimizer.search_kinds``; a suite pairing them otherwise is rejected."""

    has_layout: ClassVar[bool] = False
    """Whether ``layout_of`` declares the weight matrices (what low-rank optimizers perturb)."""

    @classmethod
    def layout_of(cls, params: ParamsModel) -> WeightLayout | None:
        """Which slices of a candidate are weight matrices, of what shape, with these parameters
        (known without loading data, so a suite checks a low-rank optimizer's rank against it);
        None: the problem declares none (test functions, typed problems)."""
        return None

    @property
    def layout(self) -> WeightLayout | None:
        """This problem's weight layout (``layout_of`` its parameters)."""
        return type(self).layout_of(self.params)

    @classmethod
    def objectives_of(cls, params: ParamsModel) -> int:
        """Losses per candidate with these parameters (a network's ``objective`` parameter may ask
        for several): what a suite checks each optimizer against before anything runs."""
        return cls.n_objectives

    @classmethod
    def declared_dim(cls, params: ParamsModel) -> int | None:
        """``dim`` when the parameters alone say it (test functions); None: known once built (networks)."""
        return None

    @classmethod
    def super_batch_of(cls, params: ParamsModel) -> int | None:
        """The problem's own evaluation batch with these parameters: training samples per
        evaluation, as circular chunks (used unless the run's optimizer entry names another);
        None: the whole training set. Known without loading data, so a suite resolves it."""
        return None

    @classmethod
    def train_size_of(cls, params: ParamsModel) -> int | None:
        """Samples in the training set with these parameters when they alone say it (the split
        sizes asked for), so a suite can check super-batches and minibatches against it before
        anything loads; None: known once the data is loaded, or no training set."""
        return None

    @classmethod
    def bounds_of(cls, params: ParamsModel) -> tuple[float, float] | None:
        """A box (low, high) on every coordinate that the problem is defined on (ZDT1's [0, 1]);
        None: unbounded weights. Box optimizers search it unless their own ``bounds`` say otherwise."""
        return None

    @property
    def objectives(self) -> int:
        """Losses per candidate of this problem: 1 gives losses of shape (P,), m > 1 gives (P, m)."""
        return type(self).objectives_of(self.params)

    @property
    def reference_point(self) -> tuple[float, ...] | None:
        """For several objectives, the point the hypervolume of a front is measured from (each
        objective's worst value of interest); None for one objective."""
        return None

    def __init__(self, params: ParamsModel, seed: int, device: torch.device) -> None:
        self.params = params
        self.seed = seed
        self.device = indexed(device)

    @classmethod
    def from_config(cls, params: Mapping[str, Any] | ParamsModel, seed: int, device: torch.device) -> Problem:
        return cls(params if isinstance(params, ParamsModel) else cls.Params(**params), seed, device)

    @property
    @abstractmethod
    def dim(self) -> int:
        """Number of weights in a candidate."""

    @property
    @abstractmethod
    def train_size(self) -> int | None:
        """Samples in the training set (one epoch); None for a problem without data (a test
        function), whose evaluation costs one forward-equivalent sample."""

    @property
    def evaluation_samples(self) -> int | None:
        """Forward-equivalent samples one evaluation costs when the problem says so itself (a
        training per evaluation); None: the objective's rule (the evaluation batch's size)."""
        return None

    def state(self) -> dict[str, torch.Tensor]:
        """State besides the weights that gradient steps change and a pre-trained start must carry
        (BatchNorm running statistics); none for most problems."""
        return {}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what ``state`` returned."""
        if state:
            raise ValueError(f"{self.name} keeps no state besides its weights, got {sorted(state)}")

    @abstractmethod
    def initial_point(self) -> torch.Tensor:
        """The seeded initial weights, shape (dim,), float32 on the problem's device."""

    def prepare(self, moves: bool, low_rank: bool) -> None:
        """Do now the one-time work that the first evaluation would otherwise do (compile or load a
        kernel, fill a cache): the runner calls it before the run's clock starts and records its
        seconds as setup, so that the run's seconds measure the method, not the machine's caches.
        ``moves``: whether the optimizer asks ``CoordinateMoves``; ``low_rank``: whether it asks
        ``LowRankPopulation``s. It must evaluate no candidate
        and draw from no random stream, so that results are the same with or without it. Most
        problems have nothing to prepare."""
        return None

    def close(self) -> None:
        """Release what the problem holds outside Python's memory (simulators, their windows and
        files): the runner calls it once a run has ended, failed or not. Most problems hold
        nothing of the kind."""
        return None

    def evaluate(self, X: Population, batch: torch.Tensor | None = None) -> torch.Tensor:
        """Losses of a population of shape (P, dim) on the training samples ``batch`` (indices on
        the problem's device; None: the whole training set): shape (P,), or (P, m) for m objectives,
        on the problem's device. X may be ``CoordinateMoves`` or a ``LowRankPopulation`` and must be on
        the problem's device."""
        if len(X.shape) != 2 or X.shape[1] != self.dim:
            raise ValueError(f"{self.name}: expected a population of shape (P, {self.dim}), got {tuple(X.shape)}")
        where = X.device if isinstance(X, torch.Tensor) else X.base.device if isinstance(X, CoordinateMoves) else X.centre.device
        if where != self.device:
            raise ValueError(
                f"{self.name}: population on {where}, problem on {self.device}; populations stay on the problem's device"
            )
        with torch.no_grad():
            if isinstance(X, CoordinateMoves):
                return self._evaluate_moves(X, batch)
            if isinstance(X, LowRankPopulation):
                return self._evaluate_low_rank(X, batch)
            return self._evaluate(X, batch)

    @abstractmethod
    def metrics(self, x: torch.Tensor, split: str) -> dict[str, float]:
        """``loss`` and each of ``reported_metrics`` (for classifiers accuracy and macro-F1) of one
        candidate on ``split`` ('train', 'val' or 'test')."""

    @abstractmethod
    def _evaluate(self, X: torch.Tensor, batch: torch.Tensor | None) -> torch.Tensor: ...

    def _evaluate_moves(self, moves: CoordinateMoves, batch: torch.Tensor | None) -> torch.Tensor:
        """Problems with a faster path for one-coordinate moves override this."""
        return self._evaluate(moves.dense(), batch)

    def _evaluate_low_rank(self, population: LowRankPopulation, batch: torch.Tensor | None) -> torch.Tensor:
        """Problems that evaluate low-rank members without building them override this."""
        return self._evaluate(population.dense(), batch)


class DifferentiableProblem(Problem):
    """A problem whose loss has a gradient: what gradient baselines and pre-training need."""

    @abstractmethod
    def loss_and_grad(self, x: torch.Tensor, batch: torch.Tensor | None) -> tuple[float, torch.Tensor]:
        """Loss and gradient (on the problem's device) at x on the training samples ``batch``
        (None: a problem without data, whose gradient is exact)."""


class TypedProblem(Problem):
    """A problem whose candidates are configurations of a ``TypedDomain`` (hyper-parameters), each
    encoded as a row of ``domain.dim`` floats, so populations flow through the objective,
    the budget and the store like weights. Its initial point is the domain's default
    configuration; evaluations are charged ``evaluation_samples`` each."""

    search_kind = "typed"

    @property
    @abstractmethod
    def domain(self) -> TypedDomain:
        """The domain the candidates are configurations of."""

    @property
    def dim(self) -> int:
        return self.domain.dim

    def initial_point(self) -> torch.Tensor:
        return self.domain.encode(self.domain.default).to(self.device)

    def configuration(self, x: torch.Tensor) -> dict[str, int | float | str]:
        """The configuration a candidate stands for (what a checkpoint records beside its metrics)."""
        return self.domain.decode(x)
