"""A suite through an executor: what is still owed, the executor the suite asks for, and the loop
that stores what comes back.

Resume and identity live here, not in the engines: whatever the executor, only runs without a
stored result are handed out, and every result is stored under its run id (by the worker, or by
this loop when the worker returned it), so a run is stored once.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import yaml

from dfo_bench.executors.base import Executor, RunSummary, RunTask, running_count
from dfo_bench.executors.progress import Progress
from dfo_bench.executors.tuning_rounds import tune
from dfo_bench.store import ResultStore
from dfo_bench.suite import ExecutorConfig, RunSpec, Suite


def _wanted(retry_failed: bool) -> set[str]:
    """Stored states that need no run: ok, and failed unless failed runs are retried."""
    return {"ok", "failed"} - ({"failed"} if retry_failed else set())


def pending_runs(suite: Suite, store: ResultStore, retry_failed: bool = False) -> list[RunSpec]:
    """Runs without a stored result (and failed ones, if asked): what a resumed suite still owes
    (of the runs known up front: a tuned entry's evaluation runs are known once its study ends)."""
    wanted = _wanted(retry_failed)
    return [spec for spec in suite.runs if store.status(spec.run_id) not in wanted]


def make_executor(config: ExecutorConfig, suite: Suite) -> Executor:
    """The engine the (validated) executor config names; dask and submitit are imported only here."""
    if config.kind == "process":
        from dfo_bench.executors.local import ProcessExecutor

        return ProcessExecutor(config.workers, config.retries)
    if config.kind == "dask":
        from dfo_bench.executors.dask import DaskExecutor

        gpu = suite.config.device == "cuda"
        return DaskExecutor(config.address, config.workers, config.threads_per_worker, config.memory_limit, config.retries, gpu)
    if config.kind == "slurm":
        from dfo_bench.executors.slurm import SlurmExecutor, slurm_parameters

        gpus = config.gpus_per_run if config.gpus_per_run is not None else int(suite.config.device == "cuda")
        parameters = slurm_parameters(
            f"dfo-bench-{suite.name}",
            config.partition,
            config.time_min,
            config.cpus_per_run,
            gpus,
            config.mem_gb,
            config.array_parallelism,
            config.extra_slurm,
        )
        return SlurmExecutor(parameters, config.cluster, config.retries, config.array_parallelism)
    from dfo_bench.executors.local import SequentialExecutor

    return SequentialExecutor()


def suite_text(suite: Suite) -> str:
    """The suite as it ran, for its copy in the results folder (the executor as given, not every default)."""
    data = suite.config.model_dump(mode="json")
    data["executor"] = suite.config.executor.options()
    return yaml.safe_dump(data, sort_keys=False)


def run_suite(
    suite: Suite, out: str | Path, executor: Executor, retry_failed: bool = False, progress: bool = True
) -> list[RunSummary]:
    """Run every pending run of the suite into ``out``; stored runs are skipped, so this resumes.

    With ``tuning:`` the studies run first (``tuning_rounds``), in rounds through the same
    executor and store, then the chosen configurations' evaluation runs with the suite's others.
    Stopping it (an exception, ``Interrupted`` by a signal) closes the executor's iterator, which
    cancels the pending runs and stops the workers; then killed writers' temporary files and
    running markers are removed."""
    store = ResultStore(out)
    store.remove_stale_temporaries()
    todo = pending_runs(suite, store, retry_failed)
    store.write_suite_copy(suite.name, suite_text(suite))
    wanted = _wanted(retry_failed)
    tuned = [plan for plan in suite.studies if plan.ranges]
    ids: set[str] = set()

    def running() -> int:
        known = running_count(executor)
        return known if known is not None else sum(1 for m in store.running_markers() if m.run_id in ids)

    summaries: list[RunSummary] = []
    if not todo and not suite.studies:  # no engine to start (a cluster, jobs) for nothing
        return summaries
    bar = Progress(len(todo) + sum(plan.runs_at_most for plan in tuned), suite.name, running, enabled=progress)

    def run_specs(specs: list[RunSpec]) -> list[RunSummary]:
        ids.update(spec.run_id for spec in specs)
        done = []
        with closing(executor.map(RunTask(store), specs, say=bar.write)) as results:
            for summary in results:
                if summary.result is not None:
                    store.write(summary.result)
                    store.unmark_running(summary.run_id)
                done.append(summary)
                bar.advance(summary.status)
        summaries.extend(done)
        return done

    def stored(spec: RunSpec) -> bool:
        return store.status(spec.run_id) in wanted

    try:
        if suite.studies:
            evaluation = tune(suite, store, run_specs, stored, bar.discount)
            owed = [spec for spec in evaluation if not stored(spec)]
            bar.discount(sum(len(plan.evaluation_seeds) for plan in tuned) - len(owed))
            todo += owed
        if todo:
            run_specs(todo)
    finally:
        bar.close()
        store.remove_stale_temporaries()
    return summaries
