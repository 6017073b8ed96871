"""A suite through an executor: what is still owed, the executor the suite asks for, and the loop
that stores what comes back.

Resume and identity live here, not in the engines: whatever the executor, only runs without a
stored result are handed out, and every result is stored under its run id (by the worker, or by
this loop when the worker returned it), so a run is stored once. Two suites started on one folder
share its runs: each worker claims its run first (``ResultStore.claim``), and a run another
process holds is left to it.
"""

from __future__ import annotations

import time
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import yaml

from dfo_bench.executors.base import CLAIMED, Executor, RunSummary, RunTask, running_count
from dfo_bench.executors.plan import Plan, RunCosts
from dfo_bench.executors.progress import Progress
from dfo_bench.executors.tuning_rounds import tune
from dfo_bench.store import EVALUATION, TUNING, ResultStore, RunningMarker
from dfo_bench.suite import ExecutorConfig, RunSpec, Suite


def settled_states(retry_failed: bool) -> set[str]:
    """Stored states that need no run: ok, and failed unless failed runs are retried."""
    return {"ok", "failed"} - ({"failed"} if retry_failed else set())


def pending_runs(suite: Suite, store: ResultStore, retry_failed: bool = False) -> list[RunSpec]:
    """Runs without a stored result (and failed ones, if asked): what a resumed suite still owes
    (of the runs known up front: a tuned entry's evaluation runs are known once its study ends).
    StoreError first when a name the suite would write cannot be a file of the folder."""
    tuning = [spec for plan in suite.studies if plan.ranges for spec in plan.trial_specs(0, {})]
    pairs = [(plan.problem.label, plan.optimizer.label) for plan in suite.studies]
    store.check_names([spec.run_id for spec in [*suite.runs, *tuning]], suite.name, pairs)
    wanted = settled_states(retry_failed)
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


WAIT_SECONDS = 2.0
"""How often a tuning round looks whether the runs another process holds are stored."""


def run_suite(
    suite: Suite,
    out: str | Path,
    executor: Executor,
    retry_failed: bool = False,
    progress: bool = True,
    plan: Plan | None = None,
) -> list[RunSummary]:
    """Run every pending run of the suite into ``out``; stored runs are skipped, so this resumes.
    Returns one summary per run handed out (the last, for a run handed out again). ``plan``: the
    suite's estimate (``plan_suite``), whose parallelism and per-run seconds give the progress
    line's time left.

    With ``tuning:`` the studies run first (``tuning_rounds``), in rounds through the same
    executor and store, then the chosen configurations' evaluation runs with the suite's others.
    Runs another process on the folder holds (``CLAIMED``) are left to it; a tuning round waits
    for them to be stored, as it scores its trials from them, and runs those the other process
    gives up. Stopping it (an exception, ``Interrupted`` by a signal) closes the executor's
    iterator, which cancels the pending runs and stops the workers; then, once the workers'
    processes have ended (5 s at most), killed writers' temporary files and running markers are
    removed."""
    store = ResultStore(out)
    store.remove_stale_temporaries()
    todo = pending_runs(suite, store, retry_failed)
    store.write_suite_copy(suite.name, suite_text(suite), *suite.expected())
    wanted = settled_states(retry_failed)
    tuned = [study for study in suite.studies if study.ranges]
    task = RunTask(store, retry_failed=retry_failed)
    costs = RunCosts.of(plan)
    ids: dict[str, float] = {}
    """Run id → expected cost of each run handed out here."""

    def own() -> list[RunningMarker]:
        """Markers of the runs this process's workers run (not those left to another process)."""
        return [m for m in store.running_markers() if m.run_id in ids and m.owner == task.owner]

    def running() -> int:
        known = running_count(executor)
        return known if known is not None else len(own())

    def ages() -> list[tuple[float, float]]:
        now = datetime.now(timezone.utc)
        return [(max((now - datetime.fromisoformat(m.started_at)).total_seconds(), 0.0), ids[m.run_id]) for m in own()]

    summaries: dict[str, RunSummary] = {}
    if not todo and not suite.studies:  # no engine to start (a cluster, jobs) for nothing
        return []
    work = costs.runs(todo) + sum(costs.study(study, phase) for study in tuned for phase in (TUNING, EVALUATION))
    at_once = plan.parallelism if plan is not None else 1
    total = len(todo) + sum(study.runs_at_most for study in tuned)
    bar = Progress(total, suite.name, running, ages, at_once, enabled=progress, work=work, seconds=costs.in_seconds)

    def skipped(specs: list[RunSpec]) -> None:
        bar.discount(len(specs), costs.runs(specs))

    def run_specs(specs: list[RunSpec]) -> list[RunSummary]:
        ids.update((spec.run_id, costs.run(spec)) for spec in specs)
        done = []
        with closing(executor.map(task, specs, say=bar.write)) as results:
            for summary in results:
                if summary.result is not None:
                    store.write(summary.result)
                    store.release(summary.run_id, task.owner)
                done.append(summary)
                summaries[summary.run_id] = summary
                bar.advance(summary.status, summary.seconds, ids[summary.run_id])
        return done

    def stored(spec: RunSpec) -> bool:
        return store.status(spec.run_id) in wanted

    def run_until_stored(specs: list[RunSpec]) -> list[RunSummary]:
        """``run_specs``, then wait for the runs left to another process to be stored; run again
        those it gives up (its claim removed, or stale)."""
        done = run_specs(specs)
        waiting = {spec.run_id: spec for spec in specs if summaries[spec.run_id].status == CLAIMED}
        while waiting:
            time.sleep(WAIT_SECONDS)
            waiting = {run_id: spec for run_id, spec in waiting.items() if not stored(spec)}
            given_up = [spec for run_id, spec in waiting.items() if store.holder(run_id, task.owner) is None]
            if given_up:
                bar.discount(-len(given_up), -costs.runs(given_up))
                done += run_specs(given_up)
                waiting = {run_id: spec for run_id, spec in waiting.items() if summaries[run_id].status == CLAIMED}
        return done

    try:
        if suite.studies:
            evaluation = tune(suite, store, run_until_stored, stored, skipped)
            owed = [spec for spec in evaluation if not stored(spec)]
            counted = sum(len(study.evaluation_seeds) for study in tuned)
            bar.discount(counted - len(owed), sum(costs.study(study, EVALUATION) for study in tuned) - costs.runs(owed))
            todo += owed
        if todo:
            run_specs(todo)
    finally:
        bar.close()
        store.await_workers(task.owner)
        store.remove_stale_temporaries()
    return list(summaries.values())
