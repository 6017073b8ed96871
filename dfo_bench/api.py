"""The Python API for notebooks and scripts: what the ``dfo-bench`` command does, as functions.

    from dfo_bench import api

    suite = api.suite({"name": "demo", "problems": ["digits-mlp"], "optimizers": ["de"],
                       "seeds": [0, 1], "budget": {"evaluations": 2000}})
    outcome = api.run(suite, "results/demo")       # same store, resume and executors as the CLI
    frame = api.results("results/demo")           # one row per run and checkpoint
    index = api.report("results/demo", "reports/demo")

A suite is validated and expanded by ``dfo_bench.suite`` whether it comes from a file, a dict or a
``SuiteConfig`` (one place resolves configuration); runs go through ``executors.run_suite``, the
rows come from ``report.load_runs`` and the report from ``report.build_report``. The CLI is a layer
of messages and exit statuses over these functions. Errors a user can act on are
``DfoBenchError`` subclasses with a one-line message.

The suite and executor layers (which import every problem and optimizer class, and torch) are
imported by the functions that need them, so that reading and reporting stored results loads
neither; ``api.SuiteConfig`` and the other configuration models are imported on first use.
"""

from __future__ import annotations

import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import ValidationError

from dfo_bench.errors import ConfigError

if TYPE_CHECKING:
    from dfo_bench.executors import RunSummary
    from dfo_bench.report.load import LoadedRuns
    from dfo_bench.store import ResultStore
    from dfo_bench.suite import ExecutorConfig, Suite, SuiteConfig, load_suite
    from dfo_bench.suite.schema import OptimizerConfig, ProblemConfig, SuiteBudget

Say = Callable[[str, bool], None]
"""Where messages go: ``say(line, err)``; ``err`` marks warnings and errors (stderr in the CLI)."""

EXECUTOR_OPTIONS = ("workers", "address", "partition", "gpus_per_run", "cpus_per_run", "time_min", "mem_gb", "cluster")
"""Executor fields a caller may set on top of the suite's (the CLI's options of ``run``)."""

__all__ = [
    "OptimizerConfig",
    "ProblemConfig",
    "RunOutcome",
    "SuiteBudget",
    "SuiteConfig",
    "check_out",
    "executor_config",
    "load",
    "load_suite",
    "report",
    "results",
    "run",
    "suite",
    "targets_of",
]

_CONFIGURATION = {
    "OptimizerConfig": "dfo_bench.suite.schema",
    "ProblemConfig": "dfo_bench.suite.schema",
    "SuiteBudget": "dfo_bench.suite.schema",
    "SuiteConfig": "dfo_bench.suite",
    "load_suite": "dfo_bench.suite",
}
"""What ``api`` re-exports from the suite layer, imported on first use (PEP 562)."""


def __getattr__(name: str) -> Any:
    if name in _CONFIGURATION:
        import importlib

        return getattr(importlib.import_module(_CONFIGURATION[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def suite(data: Mapping[str, Any] | SuiteConfig | str | Path) -> Suite:
    """A validated, expanded suite from a dict (what a suite file holds), a ``SuiteConfig``, or the
    path of a YAML file. A dict or a ``SuiteConfig`` must give ``name:`` (the results folder's)."""
    from dfo_bench.suite import load_suite, suite_from_data

    if isinstance(data, (str, Path)):
        return load_suite(data)
    return suite_from_data(dict(data) if isinstance(data, Mapping) else data)


def check_out(out: str | Path) -> Path:
    """``out`` if a folder is there or can be made there; a ConfigError otherwise, raised before
    anything is written (a file in the way would fail only once the first result is stored)."""
    out = Path(out)
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir():
        where = "is a file" if existing == out else f"is inside {existing}, which is a file"
        raise ConfigError(f"{out}: --out: {where}; allowed: a folder, or a path where one can be made")
    return out


def executor_config(suite: Suite, kind: str | None = None, options: Mapping[str, Any] | None = None) -> ExecutorConfig:
    """The suite's executor with the caller's choices on top (validated like the suite).

    ``kind`` names the executor (sequential, process, dask, slurm); without it, ``address`` means
    dask, a Slurm option means slurm and ``workers`` alone the process pool. Options of another
    kind than the suite's start from that kind's defaults."""
    from dfo_bench.suite import ExecutorConfig, format_error

    given = {key: value for key, value in (options or {}).items() if value is not None}
    if kind is None and given:
        if "address" in given:
            kind = "dask"
        elif set(given) & {"partition", "gpus_per_run", "cpus_per_run", "time_min", "mem_gb", "cluster"}:
            kind = "slurm"
        elif suite.config.executor.kind not in ("process", "dask"):
            kind = "process"
    base = suite.config.executor.options()
    if kind is not None and kind != base["kind"]:
        base = {"kind": kind}
    merged = base | given
    try:
        return ExecutorConfig(**merged)
    except ValidationError as exc:
        raise ConfigError(format_error(suite.path, "executor", exc, merged) + " (with the command line's options)") from None


@dataclass(frozen=True)
class RunOutcome:
    """What ``run`` did: one summary per run handed out, and where the results are."""

    suite: str
    out: Path
    summaries: list[RunSummary]

    @property
    def ok(self) -> int:
        return sum(1 for s in self.summaries if s.status == "ok")

    @property
    def failed(self) -> list[RunSummary]:
        return [s for s in self.summaries if s.status == "failed"]

    @property
    def elsewhere(self) -> int:
        """Runs left to another process running a suite on the same folder."""
        from dfo_bench.executors import CLAIMED

        return sum(1 for s in self.summaries if s.status == CLAIMED)


def _print(line: str, err: bool) -> None:
    print(line, file=sys.stderr if err else sys.stdout)


def run(
    suite: Suite,
    out: str | Path | None = None,
    executor: str | None = None,
    *,
    retry_failed: bool = False,
    progress: bool = True,
    plan_only: bool = False,
    say: Say = _print,
    **options: Any,
) -> RunOutcome:
    """Run a suite into ``out`` (default ``results/<suite name>``); runs already stored are
    skipped, so an interrupted suite resumes.

    ``executor``: sequential, process, dask or slurm (default: the suite's); ``options`` are the
    executor's fields (``workers``, ``address``, Slurm's ``partition``, ...). ``progress``: a bar
    (a widget in a notebook). ``plan_only``: run nothing, say the plan. Messages (the estimate, the
    damaged files, the interruption) go to ``say``. Called from the main thread, SIGINT / SIGTERM
    cancel the pending runs and raise ``executors.stopping.Interrupted``; calling ``run`` again
    resumes."""
    from dfo_bench.executors import make_executor, run_suite
    from dfo_bench.executors.plan import QUICK, headline, keep_plan, plan_suite, render, warning
    from dfo_bench.executors.stopping import Interrupted, stop_on_signals
    from dfo_bench.runner import resolve_device
    from dfo_bench.store import ResultStore

    unknown = set(options) - set(EXECUTOR_OPTIONS)
    if unknown:
        raise TypeError(f"run() got unknown executor options {sorted(unknown)}; allowed: {', '.join(EXECUTOR_OPTIONS)}")
    config = executor_config(suite, executor, options)
    where = f"{config.kind} executor"
    if config.kind in ("sequential", "process"):
        try:
            where = str(resolve_device(suite.config.device))
        except RuntimeError as exc:
            raise ConfigError(f"{suite.path}: device: {exc}; allowed on this machine: auto, cpu") from None
    out = check_out(out or Path("results") / suite.name)
    store = ResultStore(out)
    imports = time.process_time()  # this process's start, imports included: what a worker's start costs
    if plan_only:
        for line in render(plan_suite(suite, store, config, retry_failed, imports=imports)):
            say(line, False)
        return RunOutcome(suite.name, out, [])
    try:
        engine = make_executor(config, suite)
    except ImportError as exc:
        raise ConfigError(
            f"{suite.path}: executor.kind: {config.kind} needs {exc.name}; install it with pip install 'dfo-bench[cluster]'"
        ) from None
    owed, stored = _counted(suite, store, retry_failed)
    for file in store.damaged:
        say(f"warning: {file.path}: {file.reason}; it runs again", True)
    tuned = [plan for plan in suite.studies if plan.ranges]
    trials = f" ({sum(p.tuning_runs for p in tuned)} of them tuning trials, at most)" if tuned else ""
    estimate = plan_suite(suite, store, config, retry_failed, QUICK, imports)
    say(
        f"{suite.name}: {owed} runs on {where}{trials}, {stored} already stored, {owed - stored} to run, "
        f"{headline(estimate)} -> {out}",
        False,
    )
    said = warning(estimate)
    if said:
        say(said, True)
    record = keep_plan(store, estimate)
    started = time.perf_counter()
    if tuned and suite.config.tuning:
        tuning = suite.config.tuning
        say(
            f"{suite.name}: tuning first: {len(tuned)} studies × {tuning.trials} trials × {len(tuning.seeds)} tuning seeds "
            f"({tuning.sampler}, {tuning.metric}), then each chosen configuration on {len(suite.config.seeds)} seeds",
            False,
        )
    try:
        # Signal handlers can only be set from the main thread; elsewhere the caller stops the run.
        main = threading.current_thread() is threading.main_thread()
        with stop_on_signals() if main else nullcontext():
            summaries = run_suite(suite, out, engine, retry_failed, progress, estimate)
    except Interrupted as stop:
        now = _counted(suite, store, retry_failed)[1]
        say(
            f"{suite.name}: stopped by {stop}: {now} of {'at most ' if tuned else ''}{owed} runs stored "
            f"({now - stored} in this session), {owed - now} not run; run the same command again to resume",
            True,
        )
        raise
    if record is not None:
        store.write_plan(record.model_copy(update={"took_seconds": round(time.perf_counter() - started, 3)}))
    return RunOutcome(suite.name, out, summaries)


def _counted(suite: Suite, store: ResultStore, retry_failed: bool) -> tuple[int, int]:
    """(runs the suite owes, those stored and settled: ok, or failed unless retried). A tuned
    entry's runs are known only as its study goes, so they count as the most it may need (every
    trial on every tuning seed, then the evaluation seeds) and as many of its stored runs as that:
    tuning runs, and evaluation runs on the suite's seeds.
    StoreError first when a name the suite would write cannot be a file of the folder."""
    from dfo_bench.executors import pending_runs, settled_states
    from dfo_bench.store import EVALUATION, TUNING

    tuned = {(plan.problem.label, plan.optimizer.label): plan for plan in suite.studies if plan.ranges}
    settled, found = settled_states(retry_failed), Counter[tuple[str, str, str]]()
    stored = len(suite.runs) - len(pending_runs(suite, store, retry_failed))
    for run in store.stored_runs() if tuned else []:
        plan = tuned.get((run.problem_label, run.optimizer_label))
        if plan is not None and run.status in settled and (run.phase == TUNING or run.seed in plan.evaluation_seeds):
            found[(run.problem_label, run.optimizer_label, run.phase)] += 1
    for (problem, optimizer), plan in tuned.items():
        stored += min(found[(problem, optimizer, TUNING)], plan.tuning_runs)
        stored += min(found[(problem, optimizer, EVALUATION)], len(plan.evaluation_seeds))
    return len(suite.runs) + sum(plan.runs_at_most for plan in tuned.values()), stored


def load(
    results: str | Path | Sequence[str | Path],
    problems: Sequence[str] = (),
    optimizers: Sequence[str] = (),
    index: bool = True,
) -> LoadedRuns:
    """The stored rows of one or more results folders, merged (a run stored in several is kept
    from the first), with the damaged files left out and listed (``.damaged``), the tuning runs
    apart (``.tuning``) and notes on the merge (``.notes``). ``problems`` / ``optimizers``: labels
    to keep (shell wildcards allowed). ``index``: False reads every run file and writes nothing
    in the folders (not even their index, docs/store.md)."""
    from dfo_bench.report import load_runs

    folders = [Path(results)] if isinstance(results, (str, Path)) else [Path(f) for f in results]
    for folder in folders:
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"{folder}: RESULTS: is a file; allowed: a results folder written by dfo-bench run")
    return load_runs(folders, list(problems), list(optimizers), index)


def results(
    results: str | Path | Sequence[str | Path], problems: Sequence[str] = (), optimizers: Sequence[str] = ()
) -> pd.DataFrame:
    """A tidy DataFrame of the stored evaluation runs: one row per run and checkpoint, its columns
    those of the run files (docs/results-schema.md): the run's metadata repeated on each row, the
    checkpoint's usage (``evaluations``, ``samples``, ``seconds``) and metrics (``train_loss``,
    ``val_<metric>``, ``test_<metric>``), and the run's ``final_*`` values. Damaged files are
    left out with a ``UserWarning`` each."""
    loaded = load(results, problems, optimizers)
    for file in loaded.damaged:
        warnings.warn(f"{file.path}: {file.reason}; left out", stacklevel=2)
    return loaded.runs.reset_index(drop=True)


def report(
    results: str | Path | Sequence[str | Path],
    out: str | Path | None = None,
    formats: Sequence[str] = (),
    problems: Sequence[str] = (),
    optimizers: Sequence[str] = (),
    targets: Mapping[str, Sequence[float]] | Sequence[str] | None = None,
    loaded: LoadedRuns | None = None,
) -> Path:
    """Write the report of one or more results folders (default ``reports/<folder names>``) from
    stored results alone and return its main file. ``targets``: fixed targets per metric
    (``{"val_r2": [0.3, 0.4]}``, or the CLI's ``["val_r2=0.3,0.4"]``) instead of the derived
    ladder; a metric is ``train_loss`` or ``val_<metric>`` of a metric a problem declares."""
    from dfo_bench.report import DEFAULT_FORMATS, build_report

    folders = [Path(results)] if isinstance(results, (str, Path)) else [Path(f) for f in results]
    out = check_out(out or Path("reports") / "+".join(f.resolve().name for f in folders))
    loaded = loaded or load(folders, problems, optimizers)
    chosen = targets_of(targets, loaded.runs)
    return build_report(folders, out, formats or DEFAULT_FORMATS, targets=chosen, loaded=loaded)


def targets_of(
    targets: Mapping[str, Sequence[float]] | Sequence[str] | None, runs: pd.DataFrame | None = None
) -> dict[str, list[float]]:
    """Fixed targets per metric from ``{"val_r2": [0.3, 0.4]}`` or the CLI's ``["val_r2=0.3,0.4"]``,
    checked (ConfigError naming ``--targets`` and the metrics allowed: those the problems of
    ``runs`` declare, as stored with them; without ``runs``, those of every registered problem)."""
    from dfo_bench.report.declared import known_metrics
    from dfo_bench.report.targets import parse_targets, target_metrics

    specs = (
        [f"{name}={','.join(str(v) for v in values)}" for name, values in targets.items()]
        if isinstance(targets, Mapping)
        else list(targets or ())
    )
    if not specs:
        return {}
    try:
        return parse_targets(specs, target_metrics(known_metrics(runs).values()))
    except ValueError as exc:
        raise ConfigError(f"--targets: {exc}") from None
