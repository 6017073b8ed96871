"""Runs as Slurm jobs through submitit: one job array per suite, one array task per run.

A job pre-empted or cut by its time limit is requeued by submitit (the task is
``Checkpointable``: submitit resubmits it with the same spec), and the requeued task skips a run
already stored, so a suite resumes from its stored results. Results and submitit's own files
(pickled tasks, logs, under ``<results>/slurm``) go through the shared file system that Slurm
clusters have. ``cluster: local`` runs the same submissions on this machine (submitit's local
mode); as that mode starts every job at once, at most ``array_parallelism`` are kept submitted.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import submitit
from submitit.helpers import Checkpointable

from dfo_bench.executors.base import RunSummary, RunTask, Say, lost, say_on_stderr
from dfo_bench.spec import RunSpec


@dataclass(frozen=True)
class RequeueableRunTask(RunTask, Checkpointable):
    """A run task that submitit requeues on pre-emption or time-out (same spec; resumes from the store)."""


def slurm_parameters(
    name: str,
    partition: str | None,
    time_min: int,
    cpus_per_run: int,
    gpus_per_run: int,
    mem_gb: float | None,
    array_parallelism: int,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The suite's options as submitit's ``update_parameters`` takes them."""
    parameters: dict[str, Any] = {
        "name": name,
        "timeout_min": time_min,
        "cpus_per_task": cpus_per_run,
        "gpus_per_node": gpus_per_run,
        "tasks_per_node": 1,
        "nodes": 1,
        "slurm_array_parallelism": array_parallelism,
    }
    if mem_gb is not None:
        parameters["mem_gb"] = mem_gb
    if partition is not None:
        parameters["slurm_partition"] = partition
    return parameters | extra


class SlurmExecutor:
    def __init__(self, parameters: dict[str, Any], cluster: str = "slurm", retries: int = 1, array_parallelism: int = 64) -> None:
        self.parameters = parameters
        self.cluster = cluster
        self.retries = retries
        self.array_parallelism = array_parallelism
        self.poll_seconds = 0.5 if cluster == "local" else 10.0

    def submitter(self, folder: Any) -> submitit.AutoExecutor:
        """submitit's executor for this cluster with the suite's parameters."""
        executor = submitit.AutoExecutor(folder=folder, cluster=self.cluster)
        executor.update_parameters(**self.parameters)
        return executor

    def map(self, task: RunTask, specs: Iterable[RunSpec], say: Say = say_on_stderr) -> Generator[RunSummary, None, None]:
        slurm_dir = task.store.slurm_dir
        executor = self.submitter(slurm_dir / "%j")
        requeueable = RequeueableRunTask(**{f.name: getattr(task, f.name) for f in fields(task)})
        waiting = list(specs)
        jobs: list[tuple[Any, RunSpec, int]] = []
        """submitit jobs with their spec and attempt."""
        where = "this machine (submitit local mode)" if self.cluster == "local" else "slurm, one job array"
        say(f"submitit on {where}: the jobs write results into the results folder; logs in {slurm_dir}")

        def submit(batch: list[RunSpec], attempt: int) -> None:
            with _stderr_to(slurm_dir / "local-controllers.log") if self.cluster == "local" else nullcontext():
                submitted = executor.map_array(requeueable, batch)
            jobs.extend((job, spec, attempt) for job, spec in zip(submitted, batch, strict=True))

        try:
            if self.cluster != "local":
                submit(waiting, 1)
                waiting = []
            while jobs or waiting:
                room = self.array_parallelism - len(jobs)
                if waiting and room > 0:
                    submit(waiting[:room], 1)
                    waiting = waiting[room:]
                done = [entry for entry in jobs if entry[0].done()]
                if not done:
                    time.sleep(self.poll_seconds)
                for entry in done:
                    jobs.remove(entry)
                    job, spec, attempt = entry
                    try:
                        summary = job.result()
                    except Exception as exc:  # the job died (killed, out of memory) or failed
                        reason = f"its job {job.job_id} ended without a result ({type(exc).__name__})"
                        if attempt <= self.retries:
                            say(f"{spec.run_id}: {reason}; running it again (retry {attempt} of {self.retries})")
                            submit([spec], attempt + 1)
                            continue
                        summary = lost(spec, f"{reason}, {attempt} times")
                    yield summary
        finally:
            _cancel([job for job, _, _ in jobs], local=self.cluster == "local")


@contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Local mode: the job controllers submitit starts inherit this process's stderr, and print a
    traceback there when a Ctrl-C reaches them with the rest of the terminal's process group;
    they get a log file instead (their jobs' own output goes to submitit's logs anyway)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "a") as log:
            os.dup2(log.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _cancel(jobs: list[Any], local: bool) -> None:
    """Cancel unfinished jobs; locally, wait for their processes (a few seconds), then kill them."""
    for job in jobs:
        try:
            job.cancel(check=False)
        except Exception:  # already gone, or scancel failed: nothing more to do here
            pass
    if not local:
        return
    processes = [job._process for job in jobs if getattr(job, "_process", None) is not None]
    deadline = time.monotonic() + 5
    while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()
