"""MDP-style direct search: one point, moves of adaptive steps, no gradients, no population.

Around the best point so far it tries moves ±step along one coordinate (a random permutation of
the coordinates, swept in turn) or along one random unit direction, and moves to a trial that
lowers the loss. This is compass search (Kolda, Lewis & Torczon 2003, SIAM Review 45(3)) as in
the MDP method's MNIST example (784-32-10, 1,000,000 evaluations), with three refinements from
that literature, each a parameter, measured one by one on the MDP protocol in docs/papers.md
("Reproducing the papers", ``benchmarks/bench_direct_search_ablation.py``):

- **per-coordinate steps** (``steps: coordinate``): each coordinate expands its own step on
  success and contracts it on failure (Rosenbrock's 1960 rule, without the rotation), so an
  input-layer weight and an output bias do not share one step length;
- **opportunistic polls** (``poll: opportunistic``): first the move in the direction that last
  succeeded along that coordinate, the opposite one only if it fails: one evaluation instead of
  two whenever the first move succeeds;
- **flat coordinates skipped** (``skip_flat``): a move that leaves the loss exactly unchanged
  belongs to a weight no training sample reaches (an MNIST border pixel is zero in every image);
  such coordinates join later sweeps only with probability 1/8.

``repeat`` (poll a coordinate again after a success) and ``restart_factor`` (restarts with a
reduced step) are in the ablation too; they did not help and are off by default. With
``steps: global, poll: pair, skip_flat: false`` it is the version-1 search.

Coordinate trials go out as ``CoordinateMoves``, which an MLP problem evaluates from cached
activations; they are on the optimizer's device, and on the CPU they are made and applied
through NumPy views (torch's per-call overhead would be a large share of a move's cost). The
per-coordinate state (steps, last successful direction, flatness) is host-side NumPy: one scalar
of it is read per ask, as the current coordinate's value is.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from dfo_bench.moves import CoordinateMoves, Population, dense
from dfo_bench.optimizers.base import AskTellOptimizer, SearchDomain
from dfo_bench.params import Bounds, ParamsModel
from dfo_bench.ranges import log_float, ranges, uniform


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
    steps: Literal["global", "coordinate"] = "coordinate"
    """'coordinate': a step per coordinate, expanded and contracted by that coordinate's own
    successes and failures; 'global': one step for every move (direction moves: always)."""
    poll: Literal["pair", "opportunistic"] = "opportunistic"
    """'pair': both moves ±step in one ask, the better kept; 'opportunistic': first the move in the
    direction that last succeeded along that coordinate, the opposite one only if it fails."""
    repeat: bool = False
    """After a success, poll the same coordinate again (with its expanded step) before the next one."""
    skip_flat: bool = True
    """A coordinate whose moves left the loss exactly unchanged (an input that is zero on every
    training sample, a dead unit) joins later sweeps only with probability 1/8."""
    restart_factor: float = Field(1.0, gt=0, le=1)
    """Each restart starts at the previous restart's step times this (1: always the base step)."""

    @model_validator(mode="after")
    def _consistent(self) -> DirectSearchParams:
        if not self.min_step < self.step:
            raise ValueError(f"min_step ({self.min_step}) must be below the base step ({self.step})")
        coordinate_only = {"steps", "poll", "repeat", "skip_flat"} & self.model_fields_set
        if self.moves == "direction" and coordinate_only:
            names = ", ".join(sorted(coordinate_only))
            raise ValueError(f"{names} apply to moves: coordinate only (direction moves share one step, polled in pairs)")
        return self


class DirectSearch(AskTellOptimizer[Population]):
    name = "direct-search"
    description = "MDP-style direct search: ±step along coordinates or directions, expand on success, contract on failure"
    Params = DirectSearchParams
    tuning_ranges = ranges(step=log_float(1e-3, 0.5), expansion=uniform(1.0, 4.0), contraction=uniform(0.1, 0.9))
    params: DirectSearchParams
    version = 2
    tell_dtype = None  # ``_tell`` reads the losses as Python floats: no float64 copy

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: DirectSearchParams) -> None:
        super().__init__(search, rng, params)
        self._generator = self.torch_generator()
        self._x = self.x0.clone()
        self._values = _values(self._x)
        """``_x``'s values where reading one costs least: a NumPy view on the CPU, else ``_x``."""
        self._loss = math.inf
        """Loss of ``_x``; inf until the first tell, whose first trial is x0 itself."""
        self._step = params.step
        """The global step ('steps: global'), in weight units."""
        self._base = params.step
        """Where the global step restarts (shrinks by ``restart_factor`` at each restart)."""
        coordinate = params.moves == "coordinate"
        self._per_coordinate = coordinate and params.steps == "coordinate"
        self._opportunistic = coordinate and params.poll == "opportunistic"
        self._skip_flat = coordinate and params.skip_flat
        dim = self.dim if coordinate else 0
        self._steps = np.full(dim, params.step)
        """Per-coordinate steps ('steps: coordinate'), host-side scalars: one is read per ask."""
        self._restarts = np.zeros(dim, dtype=np.int64)
        self._sign = np.ones(dim, dtype=np.int8)
        """Direction of the last success along each coordinate (opportunistic polls try it first)."""
        self._flat = np.zeros(dim, dtype=bool)
        self._order: list[int] = []
        self._next: int | None = None
        """A coordinate to poll next: the second move of an opportunistic poll, or a repeat."""
        self._second = False
        """Whether the next ask is an opportunistic poll's second (opposite) move."""
        self.restarts = 0
        """How often a step collapsed and restarted."""

    @property
    def popsize(self) -> int:
        return 1 if self._opportunistic and self._loss < math.inf else 2

    @property
    def asks_moves(self) -> bool:
        return self.params.moves == "coordinate"

    @property
    def step_size(self) -> float:
        """The current global step, in weight units."""
        return self._step

    def _step_of(self, i: int) -> float:
        return float(self._steps[i]) if self._per_coordinate else self._step

    def _coordinate(self) -> int:
        if self._next is not None:
            return self._next
        if not self._order:
            order = torch.randperm(self.dim, generator=self._generator, device=self.device).cpu().numpy()
            if self._skip_flat and self._flat.any():
                revive = torch.rand(self.dim, generator=self._generator, device=self.device).cpu().numpy() < 0.125
                kept = order[~self._flat[order] | revive[order]]
                if kept.size:
                    order = kept
                else:  # every coordinate looked flat (steps below the loss's resolution): poll all again
                    self._flat[:] = False
            self._order = order.tolist()
        return self._order.pop()

    def _ask(self, n: int) -> Population:
        first = self._loss == math.inf
        if self.params.moves == "direction":
            d = torch.randn(self.dim, generator=self._generator, device=self.device)
            d *= self._step / d.norm()
            X = torch.stack([self._x + d, self._x - d])
            if first:
                X[1] = self._x
            return X if self.params.bounds is None else X.clamp_(*self.params.bounds)
        i = self._coordinate()
        xi, step = float(self._values[i]), self._step_of(i)
        if first:
            values = [xi + step, xi]
        elif not self._opportunistic:
            values = [xi + step, xi - step]
        else:
            sign = int(self._sign[i]) * (-1 if self._second else 1)
            values = [xi + sign * step]
        if self.params.bounds is not None:
            low, high = self.params.bounds
            values = [min(max(v, low), high) for v in values]
        index = torch.from_numpy(np.array([i] * len(values)))
        value = torch.from_numpy(np.array(values, dtype=np.float32))
        if self.device.type != "cpu":  # on the CPU, tensors over NumPy arrays: the fastest to make
            index, value = index.to(self.device), value.to(self.device)
        return CoordinateMoves(self._x, index, value)

    def _tell(self, X: Population, losses: torch.Tensor) -> None:
        loss = losses.tolist()
        if self._loss == math.inf:  # the first ask's second row is x0 itself
            self._loss = loss[1]
            trials = [0]
        else:
            trials = list(range(len(loss)))
        best = min(trials, key=loss.__getitem__)
        i = X.index.tolist()[0] if isinstance(X, CoordinateMoves) else -1
        if loss[best] < self._loss:
            if isinstance(X, CoordinateMoves) and self._sign.size:
                self._sign[i] = 1 if X.value.tolist()[best] > float(self._values[i]) else -1
            self._x = self._point(X, best)
            self._values = _values(self._x)
            self._loss = loss[best]
            self._expand(i)
            self._second = False
            self._next = i if self.params.repeat and i >= 0 else None
            return
        flat = self._skip_flat and all(loss[t] == self._loss for t in trials)
        if flat:  # a move that changes nothing at all: no sample's logits depend on this coordinate now
            self._flat[i] = True
        if self._opportunistic and not self._second and not flat:
            self._second, self._next = True, i  # the opposite move, before giving up on i
            return
        self._second, self._next = False, None
        self._contract(i)

    def _expand(self, i: int) -> None:
        if self._per_coordinate:
            self._steps[i] *= self.params.expansion
        else:
            self._step *= self.params.expansion

    def _contract(self, i: int) -> None:
        factor, restart = self.params.contraction, self.params.restart_factor
        if self._per_coordinate:
            self._steps[i] *= factor
            if self._steps[i] < self.params.min_step:
                self._restarts[i] += 1
                self._steps[i] = max(self.params.step * restart ** int(self._restarts[i]), 2 * self.params.min_step)
                self.restarts += 1
            return
        self._step *= factor
        if self._step < self.params.min_step:
            self._base = max(self._base * restart, 2 * self.params.min_step)
            self._step = self._base if restart < 1 else self.params.step
            self.restarts += 1

    def _point(self, X: Population, row: int) -> torch.Tensor:
        if not isinstance(X, CoordinateMoves):
            return dense(X)[row].clone()
        if X.base.is_cpu:  # through NumPy: a move costs microseconds, torch indexing more
            x = X.base.numpy().copy()
            x[X.index.tolist()[row]] = X.value.tolist()[row]  # a float32 value: exact
            return torch.from_numpy(x)
        x = X.base.clone()
        x[X.index[row]] = X.value[row]
        return x

    def recommend(self) -> torch.Tensor:
        return self._x.clone()


def _values(x: torch.Tensor) -> np.ndarray | torch.Tensor:
    """What ``float(values[i])`` reads x's coordinates from: a NumPy view on the CPU, made once
    per point (each view costs about a microsecond, and indexing it far less than torch's)."""
    return x.numpy() if x.is_cpu else x
