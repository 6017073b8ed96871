"""The one optimisation loop: used by the runner, by pre-training, by the reference functions
and by the conformance checks, for gradient and gradient-free optimizers alike.

The loop knows nothing of the optimizer's kind: it calls ``optimizer.step(objective)`` until the
objective's budget says no (``BudgetExceeded``, or the clock is past its limit). At log-spaced
fractions of the budget it calls ``on_checkpoint`` with the clock paused, so measuring costs the
run nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dfo_bench.errors import BudgetExceeded
from dfo_bench.objective import Objective
from dfo_bench.optimizers.base import Optimizer

Checkpoint = Callable[[Objective, Optimizer], None]
"""Called with the objective and the optimizer, to measure ``optimizer.recommend()``."""


class CheckpointSchedule:
    """Log-spaced fractions of the budget, from the first step's fraction to 1.

    When a step crosses several thresholds at once (generations coarse compared with the early,
    dense thresholds), the crossings are not lost: one checkpoint is recorded per step until they
    are caught up, so a run of at least ``n`` steps always records at least ``n`` checkpoints.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self._thresholds: list[float] | None = None
        self._pending = 0

    def due(self, fraction: float) -> bool:
        """Whether the state after a step that brought the budget to ``fraction`` is measured."""
        if self._thresholds is None:
            self._thresholds = list(np.geomspace(min(max(fraction, 1e-12), 1.0), 1.0, self.n))[::-1]
        while self._thresholds and fraction >= self._thresholds[-1]:
            self._thresholds.pop()
            self._pending += 1
        if self._pending:
            self._pending -= 1
            return True
        return False


def optimize(objective: Objective, optimizer: Optimizer, on_checkpoint: Checkpoint | None = None, checkpoints: int = 25) -> None:
    """Step ``optimizer`` on ``objective`` until its budget is spent.

    With ``on_checkpoint``, the start, ``checkpoints`` log-spaced points of the budget and the end
    are measured (the end once, even when it coincides with the last point).
    """
    budget = objective.budget
    schedule = CheckpointSchedule(checkpoints)
    measured_at: tuple[int, int] = (-1, -1)

    def measure() -> None:
        nonlocal measured_at
        if on_checkpoint is not None:
            with budget.paused():
                on_checkpoint(objective, optimizer)
            measured_at = (budget.usage.evaluations, budget.usage.samples)

    measure()
    budget.start()
    try:
        while True:
            try:
                optimizer.step(objective)
            except BudgetExceeded:
                break
            if budget.out_of_time:
                break
            if on_checkpoint is not None and schedule.due(budget.fraction):
                measure()
    finally:
        budget.stop()
    if measured_at != (budget.usage.evaluations, budget.usage.samples):
        measure()
