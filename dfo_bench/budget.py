"""The run's budget: owned by the runner, charged by the problem, never by the optimizer.

Units:
- evaluations: one loss of one candidate on the current evaluation batch; one gradient step
  also counts as one evaluation.
- samples: forward-equivalent samples; a sample's forward pass costs 1, its backward pass 2,
  so a gradient step on a minibatch of B samples costs 3·B. This is the fair unit across
  gradient-free and gradient methods.
- steps: environment steps of a reinforcement-learning problem, charged for every step
  actually taken (an episode that ends early costs its own length); such a problem also counts
  the episodes it finished (reported, not limited) and charges each step as one sample (the
  policy's forward pass on that step's observation).
- seconds: wall-clock seconds of the search, with checkpoint measurements paused; the one-time
  setup before it (data, pre-training, kernels) is recorded apart by the runner.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from dfo_bench.errors import BudgetExceeded

LARGEST = 2**63 - 1
"""Counts are kept in 64-bit integers."""


class BudgetLimits(BaseModel):
    """Upper bounds of a run, as a suite states them; ``None`` means that dimension is unlimited."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    evaluations: int | None = Field(None, gt=0, le=LARGEST)
    samples: int | None = Field(None, gt=0, le=LARGEST)
    """Forward-equivalent samples: forward 1, backward 2 per sample."""
    seconds: float | None = Field(None, gt=0)
    steps: int | None = Field(None, gt=0, le=LARGEST)
    """Environment steps (reinforcement-learning problems only)."""


@dataclass(frozen=True)
class Usage:
    """What a run has spent so far."""

    evaluations: int
    samples: int
    seconds: float


class Budget:
    """Counts spending and refuses any charge that would overspend a limit.

    Evaluations and samples are checked before the work is done, so they are never exceeded.
    Seconds cannot be known in advance: a run stops at the first check past the limit.
    """

    def __init__(self, limits: BudgetLimits) -> None:
        self.limits = limits
        self._evaluations = 0
        self._samples = 0
        self._steps = 0
        self._episodes = 0
        self._elapsed = 0.0
        self._started_at: float | None = None

    def start(self) -> None:
        """Start (or resume) the wall clock."""
        if self._started_at is None:
            self._started_at = time.perf_counter()

    def stop(self) -> None:
        """Stop the wall clock, keeping the time spent so far."""
        if self._started_at is not None:
            self._elapsed += time.perf_counter() - self._started_at
            self._started_at = None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Measurements taken by the runner (checkpoint metrics) are not charged as time."""
        running = self._started_at is not None
        self.stop()
        try:
            yield
        finally:
            if running:
                self.start()

    @property
    def seconds(self) -> float:
        running = 0.0 if self._started_at is None else time.perf_counter() - self._started_at
        return self._elapsed + running

    @property
    def usage(self) -> Usage:
        return Usage(self._evaluations, self._samples, self.seconds)

    @property
    def steps(self) -> int:
        """Environment steps charged so far (0 for a problem without an environment)."""
        return self._steps

    @property
    def episodes(self) -> int:
        """Episodes finished so far: what the report shows beside steps."""
        return self._episodes

    def steps_left(self) -> int | None:
        """Environment steps that may still be taken (each is a sample too); None: no bound."""
        pairs = ((self.limits.steps, self._steps), (self.limits.samples, self._samples))
        bounds = [limit - used for limit, used in pairs if limit is not None]
        return max(min(bounds), 0) if bounds else None

    def charge_steps(self, steps: int, episodes: int, evaluations: int = 0) -> None:
        """Record environment steps already taken (never more than ``steps_left`` allowed, so no
        limit is passed), each also a sample, with the episodes and evaluations they finished."""
        left = self.steps_left()
        if left is not None and steps > left:
            raise BudgetExceeded(f"{steps} step(s) would exceed the {left} left in the budget")
        if self.limits.evaluations is not None and self._evaluations + evaluations > self.limits.evaluations:
            raise BudgetExceeded(f"{evaluations} evaluation(s) would exceed the budget of {self.limits.evaluations}")
        self._steps += steps
        self._samples += steps
        self._episodes += episodes
        self._evaluations += evaluations

    def affordable(self, samples_each: int) -> int | None:
        """How many evaluations of ``samples_each`` samples fit in what is left (``None``: no bound)."""
        bounds = []
        if self.limits.evaluations is not None:
            bounds.append(self.limits.evaluations - self._evaluations)
        if self.limits.samples is not None:
            bounds.append((self.limits.samples - self._samples) // max(samples_each, 1))
        return max(min(bounds), 0) if bounds else None

    def charge(self, evaluations: int, samples: int) -> None:
        """Record spending, or raise ``BudgetExceeded`` (recording nothing) if it would overspend."""
        if self.limits.evaluations is not None and self._evaluations + evaluations > self.limits.evaluations:
            raise BudgetExceeded(f"{evaluations} evaluation(s) would exceed the budget of {self.limits.evaluations}")
        if self.limits.samples is not None and self._samples + samples > self.limits.samples:
            raise BudgetExceeded(f"{samples} sample(s) would exceed the budget of {self.limits.samples}")
        self._evaluations += evaluations
        self._samples += samples

    @property
    def out_of_time(self) -> bool:
        return self.limits.seconds is not None and self.seconds >= self.limits.seconds

    @property
    def fraction(self) -> float:
        """The largest fraction used of any limited dimension, in [0, 1] (may pass 1 for seconds)."""
        used = [0.0]
        if self.limits.evaluations:
            used.append(self._evaluations / self.limits.evaluations)
        if self.limits.samples:
            used.append(self._samples / self.limits.samples)
        if self.limits.seconds:
            used.append(self.seconds / self.limits.seconds)
        if self.limits.steps:
            used.append(self._steps / self.limits.steps)
        return max(used)
