"""Know the cost before running: a short calibration on this machine, extrapolated to every run.

How it estimates. The runs still to run are grouped by (problem, optimizer entry, phase). Each
problem is built once, as the runner builds it (its data loaded), and on it, per optimizer entry,
a fresh objective and optimizer (the run's space, super-batch and settings, on the run's device
and thread count, so populations stay on the device), timed:

- **setup**: building the problem, then the objective and optimizer; a first build over
  ``REBUILD`` s is done again and the warm time kept (imports and a cold decoding cache are paid
  once per worker process, not per run);
- **steps**: one candidate evaluated on a real evaluation batch; if a population of them would take
  over ``STEP_LIMIT`` s, a step is that time × the population plus one ask (no tell). Otherwise a
  first step, then whole steps (ask, evaluate, tell; or one gradient step) until ``effort`` s are
  spent, counting the evaluations and forward-equivalent samples each charges; the first step's
  excess over the others is setup (timed again on a fresh optimizer, past this process's one-off
  start-up, when it is short);
- **checkpoint**: the metrics of the recommended point on every split, once per problem; predicted
  from the seconds per sample when over ``STEP_LIMIT`` s (``SPLITS_PER_TRAIN`` × the training set);
- **pre-training**: the gradient steps of the pre-training optimizer, scaled to its epochs, once per
  (problem, seed) without cached weights.

On the CPU the clock is the process's CPU time, so other work on the machine does not count: the
estimate is for cores the suite has to itself (``busy`` says what the present load makes of it).
A run's estimate is its setup + the steps its budget allows (evaluations / per step, samples / per
step, the least; a ``seconds:`` budget is that many seconds, plus half a step) × seconds per step +
(checkpoints + 2) × seconds per checkpoint. The wall time is the start-up of the workers (their
imports, as this process's own start took, and the one-off costs above) + the work divided by the
runs that go at once (``parallelism``: workers, at most the cores over the threads per run, here;
Slurm's array parallelism), tuning rounds first (at most the trials × tuning seeds a round hands
out; TPE asks one trial per round), never less than the longest run.

Known error: steps whose cost grows with the run (Gaussian-process surrogates, growing archives)
and runs side by side on one GPU are underestimated; a tuned entry is calibrated with its own
configuration, not the sampled ones (a larger population or super-batch costs more); runs start
from the initial weights here, not the pre-trained ones (a blocked space's size may differ); the
store's few file writes per run are not counted; Slurm jobs run on other machines than the one
calibrated. A shared machine slows the calibration too (caches, memory bandwidth): the aim is a
factor of 1.5 either way.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import partial
from typing import TypeVar

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from dfo_bench.budget import BudgetLimits
from dfo_bench.errors import BudgetExceeded
from dfo_bench.objective import Objective
from dfo_bench.optimizers.base import AskTellOptimizer, Optimizer
from dfo_bench.pretrain import cache_path, pretraining
from dfo_bench.problems.base import Problem
from dfo_bench.registry import problems
from dfo_bench.runner import objective_for, optimizer_for, resolve_device
from dfo_bench.spec import RunSpec
from dfo_bench.store import EVALUATION, TUNING, PlanGroup, PlanRecord, ResultStore, StudyRecord
from dfo_bench.suite import ExecutorConfig, Suite
from dfo_bench.tuning.config import StudyPlan

QUICK = 1.0
"""Seconds of steps, over all optimizer entries, for the estimate in ``dfo-bench run``'s first line."""
FULL = 20.0
"""Seconds of steps, over all optimizer entries, for ``dfo-bench run --plan``."""
EFFORT = (0.1, 5.0)
"""The least and most seconds of steps per optimizer entry (a warm-up step and one more at least)."""
STEP_LIMIT = 3.0
"""Seconds above which a population's evaluation (or a checkpoint) is predicted, not run."""
REBUILD = 0.2
"""Seconds of a problem's (an optimizer's) first build above which it is built again, for the
setup time of a worker's next run."""
SPLITS_PER_TRAIN = 5 / 3
"""Samples of all splits per training sample, for a checkpoint too slow to time (digits 1.67,
MNIST 2, CIFAR-10 1.33, the reduced CIFAR suites 2)."""
REWARM = 1.0
"""Seconds of a first step below which a second run's first step is timed too: the first step of a
calibration also pays this process's one-off start-up (autograd, kernels), a run's does not."""
MAX_STEPS = 200
"""Steps timed at most per optimizer entry (tiny problems reach ``effort`` only after many)."""
SAFETY = 1.5
"""Slurm's ``time_min`` suggestion: the longest run's estimate times this, rounded up to a minute."""
LONG = 3 * 3600.0
"""Seconds of wall time above which ``dfo-bench run`` warns before starting on a CPU."""


@dataclass(frozen=True)
class Cost:
    """What one run of a (problem, optimizer entry) costs on this machine, as calibrated."""

    setup: float
    """Seconds before the search: the problem and its data, the space, the optimizer, the first step's excess."""
    step: float
    """Seconds per step: ask, evaluate, tell (or one gradient step)."""
    evaluations: float
    """Evaluations charged per step."""
    samples: float
    """Forward-equivalent samples charged per step."""
    checkpoint: float
    """Seconds of one checkpoint measurement (metrics on every split)."""

    def steps(self, budget: BudgetLimits) -> float:
        """Steps the budget allows (infinite for a ``seconds:`` budget alone)."""
        bounds = [budget.evaluations / self.evaluations] if budget.evaluations and self.evaluations else []
        bounds += [budget.samples / self.samples] if budget.samples and self.samples else []
        bounds += [budget.steps / self.samples] if budget.steps and self.samples else []  # a step is a sample
        return min(bounds, default=math.inf)

    def search_seconds(self, budget: BudgetLimits) -> float:
        """Search seconds of a run: what its stored ``seconds`` will say."""
        seconds = self.steps(budget) * self.step
        if budget.seconds is not None:  # stopped at the first check past the limit: half a step over, on average
            seconds = min(seconds, budget.seconds + self.step / 2)
        return seconds

    def run_seconds(self, budget: BudgetLimits, checkpoints: int) -> float:
        """Wall seconds of a run: setup, search and its checkpoint measurements."""
        search = self.search_seconds(budget)
        measured = 2 + min(checkpoints, math.ceil(search / self.step) if self.step else checkpoints)
        return self.setup + search + measured * self.checkpoint


@dataclass(frozen=True)
class Group:
    """The runs of one (problem, optimizer entry, phase) and the estimate of one of them."""

    problem: str
    optimizer: str
    phase: str
    stored: int
    failed: int
    pending: int
    budget: BudgetLimits
    checkpoints: int
    cost: Cost | None = None
    error: str | None = None
    """Why it could not be calibrated (the run will say it again)."""

    @property
    def run_seconds(self) -> float | None:
        return None if self.cost is None else self.cost.run_seconds(self.budget, self.checkpoints)

    @property
    def search_seconds(self) -> float | None:
        return None if self.cost is None else self.cost.search_seconds(self.budget)

    @property
    def label(self) -> str:
        return self.optimizer + (" (tuning)" if self.phase == TUNING else "")


@dataclass(frozen=True)
class Pretraining:
    """Pre-training of one problem: seconds per seed and the seeds not cached yet."""

    problem: str
    seconds: float | str
    """Seconds per seed, or why it could not be calibrated (0 when every seed is cached)."""
    seeds: int

    @property
    def work(self) -> float:
        return self.seeds * self.seconds if isinstance(self.seconds, float) else 0.0


@dataclass
class Plan:
    """The suite's runs, grouped, with estimates; ``wall`` is the suite's estimated wall time."""

    suite: str
    device: str
    executor: ExecutorConfig
    parallelism: int
    groups: list[Group]
    pretraining: list[Pretraining]
    rounds: int = 0
    """Tuning: the runs a round of the suite's studies hands out at once."""
    calibration_seconds: float = 0.0
    start: float = 0.0
    """Seconds a fresh worker process spends once: its imports (as this process's start took) and
    the one-off costs of a first run (first builds and steps, over what later ones take)."""
    one_off: float = 0.0
    """Of ``start``, what a process that has already imported dfo-bench still pays once."""
    note: str = ""
    """What the estimate assumes beyond the machine (another device than the suite's)."""

    @property
    def pending(self) -> int:
        return sum(g.pending for g in self.groups)

    @property
    def complete(self) -> bool:
        """Every group with runs to run was calibrated."""
        return all(g.cost is not None for g in self.groups if g.pending) and all(
            isinstance(p.seconds, float) for p in self.pretraining if p.seeds
        )

    @property
    def work(self) -> float:
        """Seconds of runs and pre-training, one after another."""
        runs = sum(g.pending * (g.run_seconds or 0.0) for g in self.groups)
        return runs + sum(p.work for p in self.pretraining)

    @property
    def estimates(self) -> dict[tuple[str, str, str], float]:
        """Estimated wall seconds of one run of each calibrated group, by (problem label,
        optimizer label, phase): what the progress line weighs each run by."""
        return {(g.problem, g.optimizer, g.phase): g.run_seconds for g in self.groups if g.run_seconds is not None}

    @property
    def longest(self) -> float:
        """The longest single run, its pre-training included (what a Slurm job must fit)."""
        pretrain = {p.problem: p.seconds if isinstance(p.seconds, float) else 0.0 for p in self.pretraining}
        return (
            max((g.run_seconds or 0.0) + pretrain.get(g.problem, 0.0) for g in self.groups if g.pending) if self.pending else 0.0
        )

    @property
    def startup(self) -> float:
        """Seconds of starting up: once for workers started side by side (a local pool), once per
        wave of Slurm jobs (each a fresh process), the one-off costs alone in this process."""
        config = self.executor
        if not self.pending:
            return 0.0
        if config.kind == "slurm" and config.cluster == "slurm":
            return self.start * math.ceil(self.pending / self.parallelism)
        local = config.kind in ("process", "slurm") or (config.kind == "dask" and config.address is None)
        return self.start if local else self.one_off

    @property
    def wall(self) -> float:
        """Estimated wall seconds: tuning rounds first, then the evaluation runs and pre-training side by side."""
        tuning = sum(g.pending * (g.run_seconds or 0.0) for g in self.groups if g.phase == TUNING)
        rest = self.work - tuning
        return self.startup + tuning / max(1, min(self.parallelism, self.rounds)) + max(rest / self.parallelism, self.longest)

    def time_min(self) -> int:
        """Slurm's time limit per run to ask for: the longest run × ``SAFETY``, in whole minutes."""
        return max(1, math.ceil(SAFETY * (self.longest + self.start) / 60))

    def record(self) -> PlanRecord:
        """What the results folder keeps of it (``ResultStore.write_plan``)."""
        groups = [
            PlanGroup(
                problem_label=g.problem,
                optimizer_label=g.optimizer,
                phase=g.phase,
                runs=g.pending,
                run_seconds=g.run_seconds,
                search_seconds=g.search_seconds,
            )
            for g in self.groups
            if g.pending and g.run_seconds is not None and g.search_seconds is not None
        ]
        return PlanRecord(
            suite=self.suite,
            made_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            device=self.device,
            parallelism=self.parallelism,
            calibration_seconds=round(self.calibration_seconds, 3),
            wall_seconds=round(self.wall, 3) if self.complete else None,
            groups=groups,
        )


@dataclass(frozen=True)
class RunCosts:
    """What the progress line weighs each run by: its expected wall seconds, the plan's estimate
    for its group (their mean for a group the plan did not calibrate), or 1 for every run where
    there is no complete plan (then the time left counts runs)."""

    estimates: dict[tuple[str, str, str], float]

    @classmethod
    def of(cls, plan: Plan | None) -> RunCosts:
        return cls(plan.estimates if plan is not None and plan.complete else {})

    @property
    def in_seconds(self) -> bool:
        """Whether the costs are the plan's seconds (not 1 a run)."""
        return bool(self.estimates)

    def group(self, problem: str, optimizer: str, phase: str) -> float:
        guess = sum(self.estimates.values()) / len(self.estimates) if self.estimates else 1.0
        return self.estimates.get((problem, optimizer, phase), guess)

    def run(self, spec: RunSpec) -> float:
        return self.group(spec.problem.label, spec.optimizer.label, spec.phase)

    def runs(self, specs: list[RunSpec]) -> float:
        return sum(map(self.run, specs))

    def study(self, study: StudyPlan, phase: str) -> float:
        """The runs of a study's phase counted in advance: every trial on every tuning seed, or every evaluation seed."""
        runs = study.tuning_runs if phase == TUNING else len(study.evaluation_seeds)
        return runs * self.group(study.problem.label, study.optimizer.label, phase)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def busy(plan: Plan) -> str | None:
    """A note when other work loads this machine (its load average, less the calibration's own
    process, above half its cores): the estimate is for cores the suite has to itself; at the
    present load its workers would share them."""
    if not hasattr(os, "getloadavg") or plan.device != "cpu" or not plan.pending:
        return None
    cores, load = _cores(), os.getloadavg()[0]
    others = load - 1
    if others <= cores / 2:
        return None
    slower = max(1.0, (others + plan.parallelism) / cores)
    return (
        f"note: this machine is busy (load average {load:.1f} on {cores} cores); the estimate is for cores free "
        f"for the suite: at this load, about {duration(plan.wall * slower)}"
    )


def keep_plan(store: ResultStore, plan: Plan) -> PlanRecord | None:
    """Keep the estimate beside the suite's copy, for the report's estimate against actual: this
    plan's groups over those an earlier ``dfo-bench run`` of the suite estimated (a resumed suite
    estimates only what is left). None when nothing was to run."""
    if not plan.pending:
        return None
    record = plan.record()
    earlier = next((p for p in store.plans() if p.suite == plan.suite), None)
    mine = {(g.problem_label, g.optimizer_label, g.phase) for g in record.groups}
    kept = [g for g in (earlier.groups if earlier else []) if (g.problem_label, g.optimizer_label, g.phase) not in mine]
    record = record.model_copy(update={"groups": kept + record.groups})
    store.write_plan(record)
    return record


def parallelism(config: ExecutorConfig, threads: int, runs: int) -> int:
    """Runs that go at once: Slurm's array parallelism, a remote Dask cluster's workers; on this
    machine at most its cores over the threads per run."""
    here = max(1, _cores() // threads)
    if config.kind == "sequential":
        at_once = 1
    elif config.kind == "slurm":
        at_once = config.array_parallelism if config.cluster == "slurm" else min(config.array_parallelism, here)
    elif config.kind == "dask" and config.address is not None:
        at_once = config.workers
    else:
        at_once = min(config.workers, here)
    return max(1, min(at_once, max(runs, 1)))


@contextmanager
def _threads(count: int) -> Iterator[None]:
    """The run's torch and BLAS thread counts, as ``runner.execute`` sets them."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        with threadpool_limits(limits=count):
            yield
    finally:
        torch.set_num_threads(before)


def _clock(device: torch.device) -> Callable[[], float]:
    """The calibration's clock: on the CPU the process's CPU seconds, so other work on the machine
    does not count (the estimate is for cores the suite has to itself); on a GPU the wall clock."""
    return time.process_time if device.type == "cpu" else time.perf_counter


@dataclass
class _Problem:
    """One built problem of the calibration, shared by its optimizer entries."""

    problem: Problem
    setup: float
    checkpoint: float | None = None
    """Seconds of one checkpoint's metrics, once an entry has measured (or predicted) them."""
    candidate: dict[int, float] = field(default_factory=dict)
    """Samples per evaluation → seconds of one candidate's evaluation, once timed."""
    charged: dict[int, int] = field(default_factory=dict)
    """Samples per evaluation → samples that evaluation was charged (more than one for the
    environment steps of an episode)."""


class _Unbuilt(Exception):
    """A problem the calibration could not build (its message says why)."""


T = TypeVar("T")


def _or_why(work: Callable[[], T]) -> T | str:
    """What ``work`` returns, or why it failed: the runs will fail and say why; the estimate says it too."""
    try:
        return work()
    except _Unbuilt as exc:
        return str(exc)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


class _Calibration:
    """One invocation's calibration (module docstring): each problem built once, the one-off
    costs of first builds and steps gathered apart from what every run pays."""

    def __init__(self, device: torch.device, effort: float) -> None:
        self.device = device
        self.effort = effort
        """Seconds of steps per optimizer entry."""
        self.one_off = 0.0
        self._problems: dict[str, _Problem | str] = {}

    def timed(self, work: Callable[[], object]) -> float:
        clock = _clock(self.device)
        start = clock()
        work()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return clock() - start

    def warm(self, work: Callable[[], object]) -> float:
        """Seconds of ``work`` as a worker's next run pays them: done again when the first time
        took over ``REBUILD`` s (imports, a cold cache), the excess counted as one-off."""
        first = self.timed(work)
        if first <= REBUILD:
            return first
        again = self.timed(work)
        self.one_off += max(first - again, 0.0)
        return again

    def problem(self, spec: RunSpec) -> _Problem:
        """The spec's problem, built once per label (a failure is kept too, and raised again)."""
        label = spec.problem.label
        if label not in self._problems:
            built: list[Problem] = []

            def make() -> None:
                for problem in built:  # built again after a slow first build: the first is closed
                    problem.close()
                built[:] = [problems.get(spec.problem.name).from_config(spec.problem.params, spec.seed, self.device)]

            try:
                setup = self.warm(make)
                self._problems[label] = _Problem(built[0], setup)
            except Exception as exc:
                self._problems[label] = f"{type(exc).__name__}: {exc}"
        found = self._problems[label]
        if isinstance(found, str):
            raise _Unbuilt(found)
        return found

    def close(self) -> None:
        """Close every problem built (their environments, as a run's are closed when it ends)."""
        for built in self._problems.values():
            if isinstance(built, _Problem):
                built.problem.close()

    def steps(self, objective: Objective, optimizer: Optimizer) -> tuple[float, float, float, float]:
        """(first step s, s per step, evaluations per step, samples per step) of whole steps: a
        first step (it may set up more), then steps until ``effort`` seconds are spent, at least one."""
        budget = objective.budget
        origin = budget.usage
        first = self.timed(lambda: optimizer.step(objective))
        start = end = budget.usage
        count, spent = 0, 0.0
        try:
            while (count == 0 or first + spent < self.effort) and count < MAX_STEPS:
                spent += self.timed(lambda: optimizer.step(objective))
                end, count = budget.usage, count + 1
        except BudgetExceeded:  # a pre-training shorter than the calibration
            pass
        if count == 0:  # the first step is all there is
            return first, first, float(start.evaluations - origin.evaluations), float(start.samples - origin.samples)
        return first, spent / count, (end.evaluations - start.evaluations) / count, (end.samples - start.samples) / count

    def cost(self, spec: RunSpec) -> Cost:
        """Calibrate one optimizer entry on its problem."""
        built = self.problem(spec)
        problem = built.problem
        unlimited = spec.model_copy(update={"budget": BudgetLimits()})  # never cut by the run's budget
        made: list[tuple[Objective, Optimizer]] = []

        def make() -> None:
            objective = objective_for(unlimited, problem, problem.initial_point())
            made[:] = [(objective, optimizer_for(spec, problem, objective, np.random.default_rng(spec.seed)))]

        setup = built.setup + self.warm(make)
        objective, optimizer = made[0]
        spe = objective.samples_per_evaluation
        predicted = None
        if isinstance(optimizer, AskTellOptimizer):
            if spe not in built.candidate:  # one candidate on a real evaluation batch, before any ask
                start = objective.space.initial()[None]
                if self.device.type != "cpu":  # a GPU's first call loads its kernels: a worker pays it once
                    self.one_off += self.timed(lambda: objective.evaluate(start))
                before = objective.budget.usage.samples
                built.candidate[spe] = self.timed(lambda: objective.evaluate(start))
                built.charged[spe] = objective.budget.usage.samples - before
            one, charged = built.candidate[spe], max(built.charged[spe], 1)
            P = optimizer.popsize
            if P * one > STEP_LIMIT:  # a population too slow to time: one candidate's time × P, and the ask
                predicted = (self.timed(optimizer.ask) + P * one, float(P), one / charged)
        if predicted is not None:
            step, evaluations, per_sample = predicted
            first, samples = step, evaluations * charged
        else:
            first, step, evaluations, samples = self.steps(objective, optimizer)
            per_sample = step / samples if samples else step
            if first < REWARM:  # a second run's first step, in a process past its one-off start-up
                make()
                fresh, again = made[0]
                second = self.timed(lambda: again.step(fresh))
                self.one_off += max(first - second, 0.0)
                first = second
        if built.checkpoint is None:
            n = problem.train_size
            forward = per_sample * (SPLITS_PER_TRAIN * n if n is not None and problem.evaluation_samples is None else 3 * spe)

            def measure() -> None:
                objective.metrics(optimizer.recommend())

            built.checkpoint = forward if forward > STEP_LIMIT else self.timed(measure)
        return Cost(setup + max(first - step, 0.0), step, evaluations, samples, built.checkpoint)

    def pretraining(self, spec: RunSpec) -> float:
        """One pre-training of the problem: its build, and the gradient steps of its epochs."""
        assert spec.problem.pretrain is not None
        built = self.problem(spec)
        objective, optimizer = pretraining(built.problem, spec.problem.pretrain)
        first, step, _, samples = self.steps(objective, optimizer)
        total = objective.budget.limits.samples or 0
        return built.setup + max(first - step, 0.0) + total / max(samples, 1.0) * step


def _counts(store: ResultStore, ids: list[str], retry_failed: bool) -> tuple[int, int, list[bool]]:
    """(stored ok, stored failed, whether each is to run) of these run ids."""
    states = [store.status(run_id) for run_id in ids]
    done = {"ok"} | (set() if retry_failed else {"failed"})
    return states.count("ok"), states.count("failed"), [state not in done for state in states]


def chosen_runs(plan: StudyPlan, record: StudyRecord | None) -> list[str]:
    """The run ids of a finished study's choice on the suite's evaluation seeds (the record lists
    them on the seeds of the suite that last ran, which a suite given other seeds changes); none
    while the study has not chosen."""
    if record is None or not record.evaluation_run_ids:
        return []
    return [spec.run_id for spec in plan.evaluation_specs(record.best.params if record.best else {})]


def _study_groups(plan: StudyPlan, store: ResultStore, retry_failed: bool) -> tuple[list[Group], list[int], int]:
    """A tuned entry's tuning and evaluation groups (from its study record, as far as it went),
    the seeds its pending runs use, and the runs one of its rounds hands out at once."""
    record = store.study(plan.problem.label, plan.optimizer.label)
    trials = record.trials if record else []
    ids = [run_id for trial in trials for run_id in trial.run_ids]
    ok, failed, owed = _counts(store, ids, retry_failed)
    pending = sum(owed) + max(0, plan.trials - len(trials)) * len(plan.tuning_seeds)
    tuning = Group(plan.problem.label, plan.optimizer.label, TUNING, ok, failed, pending, plan.tuning_budget, plan.checkpoints)
    chosen = chosen_runs(plan, record)
    ok_e, failed_e, owed = _counts(store, chosen, retry_failed) if chosen else (0, 0, [True] * len(plan.evaluation_seeds))
    pending_e = sum(owed)
    evaluation = Group(
        plan.problem.label, plan.optimizer.label, EVALUATION, ok_e, failed_e, pending_e, plan.evaluation_budget, plan.checkpoints
    )
    seeds = (list(plan.tuning_seeds) if pending else []) + (list(plan.evaluation_seeds) if pending_e else [])
    left = max(0, plan.trials - len(trials))
    width = (left if plan.sampler == "random" else min(left, 1)) * len(plan.tuning_seeds)
    return [tuning, evaluation], seeds, width


def plan_suite(
    suite: Suite,
    store: ResultStore,
    executor: ExecutorConfig,
    retry_failed: bool = False,
    effort: float = FULL,
    imports: float = 0.0,
) -> Plan:
    """The suite's runs in ``store`` grouped, each group with runs to run calibrated (``effort``
    seconds of steps over all); reads the results folder, writes nothing there. ``imports``: the
    seconds a fresh worker process takes to import what a run needs (the CLI passes the CPU seconds
    its own start took)."""
    started = time.perf_counter()
    groups: list[Group] = []
    specs: dict[tuple[str, str, str], RunSpec] = {}
    seeds: dict[str, set[int]] = {}
    example: dict[str, RunSpec] = {}
    rounds = 0
    by_group: dict[tuple[str, str], list[RunSpec]] = {}
    for spec in suite.runs:
        by_group.setdefault((spec.problem.label, spec.optimizer.label), []).append(spec)
    for (problem, optimizer), runs in by_group.items():
        ok, failed, owed = _counts(store, [s.run_id for s in runs], retry_failed)
        groups.append(Group(problem, optimizer, EVALUATION, ok, failed, sum(owed), runs[0].budget, runs[0].checkpoints))
        specs[(problem, optimizer, EVALUATION)] = runs[0]
        example.setdefault(problem, runs[0])
        seeds.setdefault(problem, set()).update(s.seed for s, to_run in zip(runs, owed, strict=True) if to_run)
    for plan in suite.studies:
        if not plan.ranges:
            continue
        found, used, width = _study_groups(plan, store, retry_failed)
        groups += found
        spec = plan.evaluation_specs({})[0]
        for group in found:
            specs[(group.problem, group.optimizer, group.phase)] = spec
        example.setdefault(plan.problem.label, spec)
        seeds.setdefault(plan.problem.label, set()).update(used)
        rounds += width
    threads = suite.config.threads
    at_once = parallelism(executor, threads, sum(g.pending for g in groups))
    device, note = _device(suite)
    owed_seeds = {p: s for p, s in seeds.items() if s}  # problem label → seeds with runs to run: each pre-trains once
    pretrained = [p for p, spec in example.items() if spec.problem.pretrain is not None and p in owed_seeds]
    entries = len({(g.problem, g.optimizer) for g in groups if g.pending}) + len(pretrained)
    calibration = _Calibration(device, min(max(effort / max(entries, 1), EFFORT[0]), EFFORT[1]))
    costs: dict[tuple[str, str], Cost | str] = {}
    with _threads(threads), closing(calibration):
        for i, group in enumerate(groups):
            if not group.pending:
                continue
            key = (group.problem, group.optimizer)
            if key not in costs:
                spec = specs[(group.problem, group.optimizer, group.phase)]
                costs[key] = _or_why(partial(calibration.cost, spec))
            cost = costs[key]
            groups[i] = replace(group, cost=cost) if isinstance(cost, Cost) else replace(group, error=cost)
        pretraining = []
        for label in pretrained:
            spec = example[label]
            to_train = [s for s in owed_seeds[label] if not cache_path(store.cache_dir, spec.problem, s, device).exists()]
            seconds = _or_why(partial(calibration.pretraining, spec)) if to_train else 0.0
            pretraining.append(Pretraining(label, seconds, len(to_train)))
    return Plan(
        suite.name,
        str(device),
        executor,
        at_once,
        groups,
        pretraining,
        rounds,
        calibration_seconds=time.perf_counter() - started,
        start=imports + calibration.one_off,
        one_off=calibration.one_off,
        note=note,
    )


def _device(suite: Suite) -> tuple[torch.device, str]:
    """Where to calibrate: the suite's device here, or the CPU when it asks for one this machine lacks."""
    try:
        return resolve_device(suite.config.device), ""
    except RuntimeError:
        return torch.device("cpu"), f"calibrated on the cpu: this machine has no {suite.config.device} device"


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``2.5 h``, ``6 days``: as precise as an estimate is."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    days = seconds / 86400
    return f"{days:.1f} days" if days < 10 else f"{round(days)} days"


def at_once(plan: Plan) -> str:
    """How the runs go: ``on 2 workers``, ``in 64 Slurm jobs at once``."""
    n = plan.parallelism
    if plan.executor.kind == "slurm":
        return f"in {n} Slurm job{'s' * (n != 1)} at once"
    return f"on {n} worker{'s' * (n != 1)}"


def headline(plan: Plan) -> str:
    """The estimate for ``dfo-bench run``'s first line: ``about 1 min on 2 workers (estimate)``."""
    if not plan.pending:
        return "nothing to run"
    if not plan.complete:
        return "no estimate (see --plan)"
    return f"about {duration(plan.wall)} {at_once(plan)} (estimate)"


def warning(plan: Plan) -> str | None:
    """A line to print before a suite that would run for hours on this machine's CPU."""
    if plan.complete and plan.device == "cpu" and plan.executor.kind != "slurm" and plan.wall > LONG:
        return f"warning: estimated {duration(plan.wall)} on this CPU; see --plan; a GPU or --executor slurm"
    return None


def render(plan: Plan) -> list[str]:
    """``dfo-bench run --plan``: a line per (problem, optimizer entry), pre-training, the total."""
    header = ["problem", "optimizer", "stored", "failed", "to run", "per run", "all to run"]
    rows = []
    for g in plan.groups:
        each = total = "-"
        if g.pending and g.run_seconds is not None:
            each, total = duration(g.run_seconds), duration(g.pending * g.run_seconds)
        elif g.pending:
            each = f"not calibrated: {g.error}"
        rows.append([g.problem, g.label, str(g.stored), str(g.failed), str(g.pending), each, total])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  " + "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    stored = sum(g.stored for g in plan.groups)
    failed = sum(g.failed for g in plan.groups)
    where = f"{plan.device}, {plan.executor.kind} executor"
    lines = [
        f"{plan.suite}: plan on {where}: {stored} stored, {failed} failed, {plan.pending} to run; "
        f"calibrated in {plan.calibration_seconds:.1f} s" + (f" ({plan.note})" if plan.note else ""),
        line(header),
        *(line(r) for r in rows),
    ]
    for p in plan.pretraining:
        if p.seeds:
            each = duration(p.seconds) if isinstance(p.seconds, float) else f"not calibrated: {p.seconds}"
            lines.append(f"  pre-training {p.problem}: {p.seeds} seed(s) not cached, {each} each")
    if not plan.pending:
        lines.append(f"{plan.suite}: total: nothing to run")
    elif plan.complete:
        lines.append(
            f"{plan.suite}: total: {plan.pending} runs, {duration(plan.work)} of work, "
            f"about {duration(plan.wall)} {at_once(plan)} (estimate)"
        )
    else:
        lines.append(f"{plan.suite}: total: {plan.pending} runs; no estimate: some could not be calibrated (above)")
    if plan.executor.kind == "slurm" and plan.pending and plan.complete:
        lines.append(
            f"slurm: time_min {plan.time_min()} per run (the longest run, {duration(plan.longest)}, × {SAFETY}, "
            f"measured on this machine); the suite asks {plan.executor.time_min}"
        )
    notes = [note for note in (warning(plan), busy(plan)) if note]
    return lines + notes
