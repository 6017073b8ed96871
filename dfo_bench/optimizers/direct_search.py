"""MDP-style direct search: one point, moves of an adaptive step, no gradients, no population.

Around the best point so far it tries the two opposite moves ±step along one coordinate (a
random permutation of the coordinates, swept in turn) or along one random unit direction, and
moves to the better trial if it lowers the loss. The step expands after a success and
contracts after a failure; when it collapses below ``min_step`` it restarts at the base step.
This is compass search (Kolda, Lewis & Torczon 2003, SIAM Review 45(3)) with one adaptive step,
as in the MDP method's MNIST example (784-32-10, 1,000,000 evaluations).

One ask carries the pair ±step of one coordinate. Polling both and keeping the better is the
complete poll of compass search along that coordinate; it spends one evaluation more than an
opportunistic poll when the first move succeeds, but halves the per-ask overhead (runner,
bookkeeping: tens of microseconds, as much as an incremental MLP trial). Coordinate trials go
out as ``CoordinateMoves``, which an MLP problem evaluates from cached activations; they are on
the optimizer's device, and on the CPU they are made and applied through NumPy views (torch's
per-call overhead would be a large share of a move's cost).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from dfo_bench.moves import CoordinateMoves, Population
from dfo_bench.optimizers.base import AskTellOptimizer
from dfo_bench.params import Bounds, ParamsModel
from dfo_bench.tuning.space import log_float, space, uniform


class DirectSearchParams(ParamsModel):
    step: float = Field(0.05, gt=0)
    """Base step: the length of a move at the start and after each restart, in weight units."""
    expansion: float = Field(2.0, ge=1)
    """Factor on the step after a successful poll."""
    contraction: float = Field(0.5, gt=0, lt=1)
    """Factor on the step after a failed poll."""
    min_step: float = Field(1e-5, gt=0)
    """A step below this has collapsed: restart at the base step, from the best point."""
    moves: Literal["coordinate", "direction"] = "coordinate"
    """'coordinate': ±step along one coordinate (cheap for MLPs: incremental evaluation);
    'direction': ±step along a random unit direction (every weight changes: full evaluations)."""
    bounds: Bounds | None = (-1.0, 1.0)
    """Box on every weight, trials clipped into it (the MDP post bounds weights to [-1, 1]); None: unbounded."""

    @model_validator(mode="after")
    def _consistent(self) -> DirectSearchParams:
        if not self.min_step < self.step:
            raise ValueError(f"min_step ({self.min_step}) must be below the base step ({self.step})")
        return self


class DirectSearch(AskTellOptimizer[Population]):
    name = "direct-search"
    description = "MDP-style direct search: ±step along coordinates or directions, expand on success, contract on failure"
    Params = DirectSearchParams
    search_space = space(step=log_float(1e-3, 0.5), expansion=uniform(1.0, 4.0), contraction=uniform(0.1, 0.9))
    params: DirectSearchParams

    def __init__(self, x0: torch.Tensor, rng: np.random.Generator, params: DirectSearchParams) -> None:
        super().__init__(x0, rng, params)
        self._generator = self.torch_generator()
        self._x = self.x0.clone()
        self._loss = math.inf
        """Loss of ``_x``; inf until the first tell, whose first trial is x0 itself."""
        self._step = params.step
        self._order: list[int] = []
        self.restarts = 0
        """How often the step collapsed and restarted at the base step."""

    @property
    def popsize(self) -> int:
        return 2

    @property
    def step_size(self) -> float:
        """The current step, in weight units."""
        return self._step

    def _ask(self, n: int) -> Population:
        first = self._loss == math.inf
        if self.params.moves == "direction":
            d = torch.randn(self.dim, generator=self._generator, device=self.device)
            d *= self._step / d.norm()
            X = torch.stack([self._x + d, self._x - d])
            if first:
                X[1] = self._x
            return X if self.params.bounds is None else X.clamp_(*self.params.bounds)
        if not self._order:
            self._order = torch.randperm(self.dim, generator=self._generator, device=self.device).tolist()
        i = self._order.pop()
        xi = float(self._x[i])
        values = [xi + self._step, xi if first else xi - self._step]
        if self.params.bounds is not None:
            low, high = self.params.bounds
            values = [min(max(v, low), high) for v in values]
        index, value = torch.from_numpy(np.array([i, i])), torch.from_numpy(np.array(values, dtype=np.float32))
        if self.device.type != "cpu":  # on the CPU, tensors over NumPy arrays: the fastest to make
            index, value = index.to(self.device), value.to(self.device)
        return CoordinateMoves(self._x, index, value)

    def _tell(self, X: Population, losses: torch.Tensor) -> None:
        loss = losses.tolist()
        if self._loss == math.inf:  # the first ask's second row is x0 itself
            self._loss = loss[1]
            trials = [0]
        else:
            trials = [0, 1]
        best = min(trials, key=loss.__getitem__)
        if loss[best] < self._loss:
            self._x = self._point(X, best)
            self._loss = loss[best]
            self._step *= self.params.expansion
        else:
            self._step *= self.params.contraction
            if self._step < self.params.min_step:
                self._step = self.params.step
                self.restarts += 1

    def _point(self, X: Population, row: int) -> torch.Tensor:
        if not isinstance(X, CoordinateMoves):
            return X[row].clone()
        x = X.base.clone()
        if x.device.type == "cpu":  # NumPy views: a move costs microseconds, torch indexing more
            x.numpy()[X.index.numpy()[row]] = X.value.numpy()[row]
        else:
            x[X.index[row]] = X.value[row]
        return x

    def recommend(self) -> torch.Tensor:
        return self._x.clone()
