"""The runner: the one place that owns budgets, seeds and checkpoints.

For each run the seed fixes the data split and the initial weights (through the problem, for
every optimizer alike) and the optimizer's generator (hashed with the problem's and the
optimizer's names; variants of one optimizer share it, for a paired comparison). The budget
is charged by the problem; the runner stops when it says so and, at log-spaced fractions of
it, measures the recommended point with the clock paused. The runner also builds what a run
starts from: the initial weights (or their cached pre-training) and the search space that
stands between optimizer and problem.
"""

from __future__ import annotations

import math
import traceback
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch
from pydantic import TypeAdapter

from dfo_bench.budget import Budget
from dfo_bench.errors import BudgetExceeded
from dfo_bench.optimizers.base import AskTellOptimizer, GradientOptimizer, Optimizer
from dfo_bench.pretrain import pretrained_start
from dfo_bench.problems.base import SPLITS, Problem
from dfo_bench.registry import optimizers, problems
from dfo_bench.seeding import derive_seed
from dfo_bench.spaces import Space, SpaceConfig, make_space
from dfo_bench.suite import RunSpec

@dataclass
class RunResult:
    """What a run produced: one trace row per checkpoint, the final state, and how it ended."""

    spec: RunSpec
    run_seed: int
    started_at: str
    device: str
    dim: int | None = None
    search_dim: int | None = None
    """Coordinates the optimizer searched (``dim`` unless the space is blocked)."""
    pretrain: dict[str, Any] | None = None
    """Cost of the pre-training the run started from (evaluations, samples, seconds, cached)."""
    trace: list[dict[str, float]] = field(default_factory=list)
    error: str | None = None

    @property
    def status(self) -> str:
        return "failed" if self.error else "ok"


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA where present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("cuda was asked for, but torch sees no CUDA device")
    return torch.device(name)


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


def execute(spec: RunSpec, cache_dir: Path | None = None) -> RunResult:
    """Run one spec to the end of its budget; failures (exceptions, NaN) are recorded, not raised.

    ``cache_dir`` keeps pre-trained starting weights for the other runs of a suite.
    """
    run_seed = derive_seed(spec.seed, "optimizer", spec.problem.name, spec.optimizer.name)
    result = RunResult(spec, run_seed, datetime.now(timezone.utc).isoformat(timespec="seconds"), spec.device)
    torch.set_num_threads(spec.threads)
    try:
        device = resolve_device(spec.device)
        result.device = str(device)
        make_problem = partial(problems.get(spec.problem.name).from_config, spec.problem.params, spec.seed, device)
        problem = make_problem()
        result.dim = problem.dim
        x0 = problem.initial_point()
        if spec.init is not None:
            start = pretrained_start(make_problem, spec.init["pretrain"], cache_dir)
            x0 = start.weights
            problem.load_state(start.state)
            result.pretrain = {**asdict(start.usage), "cached": start.cached}
        space = make_space(TypeAdapter(SpaceConfig).validate_python(spec.space), x0)
        result.search_dim = space.dim
        optimizer = optimizers.get(spec.optimizer.name).from_config(
            space.initial(), np.random.default_rng(run_seed), spec.optimizer.params
        )
        if isinstance(optimizer, AskTellOptimizer) and optimizer.evaluation_batch is not None:
            problem.use_evaluation_batch(optimizer.evaluation_batch)
        _optimize(problem, space, optimizer, Budget(spec.budget), spec.checkpoints, result.trace)
    except Exception as exc:  # a failed run is stored with its error; the suite goes on
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        result.error = f"{type(exc).__name__}: {exc}{where}"
    return result


def _optimize(problem: Problem, space: Space, optimizer: Optimizer, budget: Budget, checkpoints: int, trace: list) -> None:
    """The budget loop; the optimizer works in ``space``, the problem sees weights."""
    problem.attach(budget)
    schedule = CheckpointSchedule(checkpoints)
    best_seen = math.inf

    def loss_and_grad(z: torch.Tensor, batch_size: int) -> tuple[float, torch.Tensor]:
        loss, grad = problem.loss_and_grad(space.point(z), batch_size)
        return loss, space.pullback(grad)

    trace.append(_measure(problem, space, optimizer, budget, best_seen))
    budget.start()
    while True:
        if isinstance(optimizer, AskTellOptimizer):
            Z = optimizer.ask()
            affordable = budget.affordable(problem.samples_per_evaluation)
            k = Z.shape[0] if affordable is None else min(affordable, Z.shape[0])
            if k == 0:
                break
            losses = problem.evaluate(space.to_weights(Z if k == Z.shape[0] else Z[:k]))
            best_seen = min(best_seen, float(losses.min()))
            if k < Z.shape[0]:  # the budget ends inside this generation: evaluated, not told
                break
            optimizer.tell(Z, losses)
        elif isinstance(optimizer, GradientOptimizer):
            try:
                best_seen = min(best_seen, optimizer.step(loss_and_grad))
            except BudgetExceeded:
                break
        else:
            raise TypeError(f"{type(optimizer).__name__} is neither an ask/tell nor a gradient optimizer")
        if budget.out_of_time:
            break
        if schedule.due(budget.fraction):
            trace.append(_measure(problem, space, optimizer, budget, best_seen))
    budget.stop()
    if trace[-1]["evaluations"] != budget.usage.evaluations:
        trace.append(_measure(problem, space, optimizer, budget, best_seen))


def _measure(problem: Problem, space: Space, optimizer: Optimizer, budget: Budget, best_seen: float) -> dict[str, Any]:
    with budget.paused():
        usage = budget.usage
        x = space.point(optimizer.recommend())
        row: dict[str, Any] = {
            "evaluations": usage.evaluations,
            "samples": usage.samples,
            "seconds": usage.seconds,
            "best_seen_loss": best_seen,
        }
        for split in SPLITS:
            for metric, value in problem.metrics(x, split).items():
                row[f"{split}_{metric}"] = value
    if not math.isfinite(row["train_loss"]):
        raise FloatingPointError(f"training loss of the recommended point is {row['train_loss']}")
    return row
