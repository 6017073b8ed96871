"""The runner: builds one run from its spec and records it; the one place that owns seeds,
budgets and checkpoints.

For each run the seed fixes the data split and the initial weights (through the problem, for
every optimizer alike) and the optimizer's generator (hashed with the problem's and the
optimizer's names; variants of one optimizer share it, for a paired comparison). The runner
builds what the run starts from (the initial weights or their cached pre-training, on the
problem's device), the objective (problem + space + evaluation batches + budget) and the
optimizer (on its ``SearchDomain``), taking every setting as the spec resolved it
(``RunSpec.settings``), then hands them to the one loop, ``dfo_bench.loop.optimize``, which measures the
recommended point at log-spaced fractions of the budget with the clock paused.

The clock measures the method alone. Everything done once per run or per machine happens before
it starts and is recorded apart, as ``setup_seconds``: building the problem (its data), the
pre-trained start, the optimizer, and ``Problem.prepare`` (a kernel compiled on first use). Before
that, a short speed probe (``dfo_bench.probe``) records how fast the machine is at that moment.
After the probe and until the run's end, its peak memory is measured (``dfo_bench.memory``).
"""

from __future__ import annotations

import math
import time
import traceback
from contextlib import closing
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from dfo_bench.budget import Budget
from dfo_bench.loop import optimize
from dfo_bench.memory import MemoryMeter
from dfo_bench.objective import Objective
from dfo_bench.optimizers.base import Optimizer, SearchDomain
from dfo_bench.pareto import hypervolume
from dfo_bench.pretrain import pretrained_start
from dfo_bench.probe import Probe, measure_speed
from dfo_bench.problems.base import Problem, TypedProblem
from dfo_bench.problems.rl.base import RolloutProblem
from dfo_bench.record import RunResult, failed_result
from dfo_bench.registry import optimizers, problems
from dfo_bench.run_warnings import WarningsOnce
from dfo_bench.spaces import FullSpace, make_space
from dfo_bench.spec import RunSpec


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA where present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("cuda was asked for, but torch sees no CUDA device")
    return torch.device(name)


def execute(spec: RunSpec, cache_dir: Path | None = None, probe: Probe = measure_speed) -> RunResult:
    """Run one spec to the end of its budget; failures (exceptions, NaN) are recorded, not raised.

    ``cache_dir`` keeps pre-trained starting weights for the other runs of a suite. The process's
    torch and BLAS thread counts are the spec's during the run and restored after it. ``probe``
    measures the machine's speed at the run's start (tests give it fixed speeds).
    """
    result = failed_result(spec, None)
    threads = torch.get_num_threads()
    torch.set_num_threads(spec.threads)
    try:
        # NumPy's BLAS (pycma's eigendecompositions) too: a pool's workers each starting one BLAS
        # thread per core oversubscribe the machine (cma-es ran 12x slower in a 2-worker pool).
        with threadpool_limits(limits=spec.threads), WarningsOnce(spec.run_id):
            _run(spec, cache_dir, result, probe)
    except Exception as exc:  # a failed run is stored with its error; the suite goes on
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        result.error = f"{type(exc).__name__}: {exc}{where}"
    finally:
        torch.set_num_threads(threads)
    return result


def _run(spec: RunSpec, cache_dir: Path | None, result: RunResult, probe: Probe) -> None:
    device = resolve_device(spec.device)
    result.device = str(device)
    result.speed = probe(device)
    meter = MemoryMeter(device)
    try:
        _build_and_optimize(spec, cache_dir, result, device)
    finally:  # a run that failed (out of memory, say) keeps what it used up to there
        result.memory = meter.read()


def _build_and_optimize(spec: RunSpec, cache_dir: Path | None, result: RunResult, device: torch.device) -> None:
    setup_started = time.perf_counter()
    kind = problems.get(spec.problem.name)
    result.metrics = kind.reported_metrics
    make_problem = partial(kind.from_config, spec.problem.params, spec.seed, device)
    with closing(make_problem()) as problem:  # its environments, simulators: released however the run ends
        result.dim = problem.dim
        x0 = problem.initial_point()
        if spec.problem.pretrain is not None:
            start = pretrained_start(make_problem, spec.problem, spec.seed, cache_dir)
            x0 = start.weights
            problem.load_state(start.state)
            result.pretrain = {**asdict(start.usage), "cached": start.cached}
        objective = objective_for(spec, problem, x0)
        result.search_dim = objective.space.dim
        optimizer = optimizer_for(spec, problem, objective, np.random.default_rng(result.run_seed))
        if problem.reference_point is not None:
            result.reference_point = [float(v) for v in problem.reference_point]
        problem.prepare(optimizer.asks_moves, optimizer.asks_low_rank)
        result.setup_seconds = time.perf_counter() - setup_started
        optimize(objective, optimizer, partial(_measure, result.trace), spec.checkpoints)


def objective_for(spec: RunSpec, problem: Problem, x0: torch.Tensor) -> Objective:
    """What a run of ``spec`` minimises on ``problem`` started from ``x0``: the spec's search space
    around x0, its budget, and evaluation batches of the spec's resolved super-batch."""
    return Objective(problem, make_space(spec.optimizer.space, x0), Budget(spec.budget), spec.settings.super_batch)


def optimizer_for(spec: RunSpec, problem: Problem, objective: Objective, rng: np.random.Generator) -> Optimizer:
    """The spec's optimizer, drawing from ``rng``, searching ``objective``'s space from its start
    (within the problem's box; a typed problem's domain)."""
    typed = problem.domain if isinstance(problem, TypedProblem) else None
    layout = problem.layout if isinstance(objective.space, FullSpace) else None
    search = SearchDomain(objective.space.initial(), spec.settings.bounds, typed, layout)
    return optimizers.get(spec.optimizer.name).from_config(search, rng, spec.optimizer.params)


def _measure(trace: list[dict[str, Any]], objective: Objective, optimizer: Optimizer) -> None:
    """Append a trace row: what was spent, the best loss seen, and the recommendation's metrics."""
    usage = objective.budget.usage
    row: dict[str, Any] = {"evaluations": usage.evaluations, "samples": usage.samples, "seconds": usage.seconds}
    if isinstance(objective.problem, RolloutProblem):  # other problems keep their columns
        row |= {"steps": objective.budget.steps, "episodes": objective.budget.episodes}
    best = objective.best_seen
    row |= {"best_seen_loss": best[0]} if len(best) == 1 else {f"best_seen_loss_{i}": v for i, v in enumerate(best)}
    if objective.front is not None:
        row["pareto_front"] = objective.front.to_json()
        reference = objective.problem.reference_point
        row["hypervolume"] = hypervolume(objective.front.points, reference) if reference is not None else math.nan
    row |= objective.metrics(optimizer.recommend())
    bad = [k for k, v in row.items() if k.endswith("_loss") and k != "best_seen_loss" and not math.isfinite(v)]
    if bad:
        raise FloatingPointError(f"{bad[0].replace('_', ' ')} of the recommended point is {row[bad[0]]}")
    trace.append(row)
