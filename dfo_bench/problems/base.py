"""The problem interface: a network and its data, evaluated a whole population at a time.

A problem charges every evaluation and every gradient step to the run's budget before doing
the work, so an optimizer can neither under-report nor overspend. Metrics for checkpoints are
measurements, not search, and are not charged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import torch

from dfo_bench.budget import Budget, BudgetLimits
from dfo_bench.moves import CoordinateMoves, Population
from dfo_bench.params import ParamsModel

SPLITS = ("train", "val", "test")


class Problem(ABC):
    """A loss over a flat weight vector of ``dim`` float32 values.

    Subclasses set ``name``, ``description`` and ``Params``, build their data and initial point
    from ``seed`` alone (so every optimizer starts from the same weights on the same split), and
    implement the private hooks.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[ParamsModel]] = ParamsModel

    def __init__(self, params: ParamsModel, seed: int, device: torch.device) -> None:
        self.params = params
        self.seed = seed
        self.device = device
        self.budget = Budget(BudgetLimits())

    @classmethod
    def from_config(cls, params: Mapping[str, Any], seed: int, device: torch.device) -> Problem:
        return cls(cls.Params(**params), seed, device)

    @property
    @abstractmethod
    def dim(self) -> int:
        """Number of weights in a candidate."""

    @property
    @abstractmethod
    def samples_per_evaluation(self) -> int:
        """Forward-equivalent samples charged for evaluating one candidate."""

    @property
    def train_size(self) -> int:
        """Samples in the training set (one epoch), for pre-training measured in epochs."""
        raise NotImplementedError(f"{self.name} does not say its training-set size, so it cannot be pre-trained by epochs")

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
        """The seeded initial weights, shape (dim,), float32 on the CPU."""

    def attach(self, budget: Budget) -> None:
        """Charge all further work to ``budget`` (the runner's)."""
        self.budget = budget

    def evaluate(self, X: Population) -> torch.Tensor:
        """Losses of a population X of shape (P, dim) on the current evaluation batch, shape (P,).

        X may be ``CoordinateMoves``; each candidate is charged one evaluation either way.
        """
        if len(X.shape) != 2 or X.shape[1] != self.dim:
            raise ValueError(f"{self.name}: expected a population of shape (P, {self.dim}), got {tuple(X.shape)}")
        self.budget.charge(evaluations=X.shape[0], samples=X.shape[0] * self.samples_per_evaluation)
        with torch.no_grad():
            if isinstance(X, CoordinateMoves):
                losses = self._evaluate_moves(X.to(self.device))
            else:
                losses = self._evaluate(X.to(self.device, torch.float32))
        return losses.float().cpu()

    def use_evaluation_batch(self, size: int) -> None:
        """Score every later ``evaluate`` on the next circular chunk of ``size`` training samples
        (one chunk per call, shared by the whole population); asked for by super-batch optimizers."""
        raise NotImplementedError(f"{self.name} cannot evaluate on circular super-batches")

    def loss_and_grad(self, x: torch.Tensor, batch_size: int) -> tuple[float, torch.Tensor]:
        """Loss and gradient at x on the next training minibatch; charged 1 evaluation and 3·B samples."""
        self.budget.charge(evaluations=1, samples=3 * batch_size)
        loss, grad = self._loss_and_grad(x.to(self.device, torch.float32), batch_size)
        return loss, grad.float().cpu()

    @abstractmethod
    def metrics(self, x: torch.Tensor, split: str) -> dict[str, float]:
        """Loss, accuracy and macro-F1 of one candidate on ``split`` ('train', 'val' or 'test')."""

    @abstractmethod
    def _evaluate(self, X: torch.Tensor) -> torch.Tensor: ...

    def _evaluate_moves(self, moves: CoordinateMoves) -> torch.Tensor:
        """Problems with a faster path for one-coordinate moves override this."""
        return self._evaluate(moves.dense())

    @abstractmethod
    def _loss_and_grad(self, x: torch.Tensor, batch_size: int) -> tuple[float, torch.Tensor]: ...
