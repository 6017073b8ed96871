"""What every executor shares: the task a worker runs for one spec, the summary it sends back,
and the interface an engine plugs into.

An executor is handed a picklable ``RunTask`` and the pending specs, and yields one
``RunSummary`` per spec as runs complete. Which engine runs the task (this process, a local
pool, Dask, Slurm) changes nothing in a result: the task builds the run from its spec alone.
An executor never raises for a run: a run whose worker died is retried and then summarised as
failed (``lost``), with a result for the client to store. Where workers see the results folder
they claim each run before running it, so that two suites on one folder run each run once.
"""

from __future__ import annotations

import signal
import sys
import time
import uuid
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from dfo_bench.record import RunResult, failed_result
from dfo_bench.runner import execute
from dfo_bench.spec import RunSpec
from dfo_bench.store import ResultStore, RunningMarker

Say = Callable[[str], None]
"""Where an executor reports one line (a retried run, the mode it runs in)."""


def say_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


CLAIMED = "claimed"
"""A summary's status when the run was left to another process on the same results folder: it
held the run's claim, or had stored the run by the time this worker came to it."""


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    status: str
    """``ok`` or ``failed`` (the run's result), or ``CLAIMED`` (not run here)."""
    error: str | None
    """Why it failed, or who holds the claim."""
    result: RunResult | None = None
    """A result the client must store: a worker that could not write to the results folder
    returned it, or the run was lost with its worker. None when the worker stored it."""
    seconds: float | None = None
    """Wall seconds the run took in its worker (building the problem to storing the result),
    for the time left that the progress line says. None: not run here (left to another process,
    or lost with its worker)."""


def _new_owner() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class RunTask:
    """Execute one run and store its result atomically; what a worker runs for each spec.

    With ``shared`` (the results folder is visible to the worker) the worker claims the run
    (``ResultStore.claim``) and, unless another live process holds it, runs it and writes the
    result into ``store``; otherwise it returns the result for the client to write and touches no
    file. A run stored by the time its claim is had (by another process, a requeued job, a task
    run twice) is not run again. ``owner`` identifies the ``dfo-bench run`` the task works for:
    a claim of the same owner is an earlier attempt that its executor gave up on.
    """

    store: ResultStore
    shared: bool = True
    owner: str = field(default_factory=_new_owner)
    retry_failed: bool = False
    """Whether a run stored as failed is run again (else it counts as stored)."""

    def __call__(self, spec: RunSpec) -> RunSummary:
        if not self.shared:
            started = time.monotonic()
            result = execute(spec)
            return RunSummary(spec.run_id, result.status, result.error, result, time.monotonic() - started)
        store = self.store
        held = store.claim(spec, self.owner)
        if isinstance(held, RunningMarker):
            return RunSummary(spec.run_id, CLAIMED, f"being run by {held.host} pid {held.pid} since {held.started_at}")
        with held:
            stored = store.status(spec.run_id)
            if stored == "ok" or (stored == "failed" and not self.retry_failed):
                return RunSummary(spec.run_id, CLAIMED, "stored meanwhile by another process")
            started = time.monotonic()
            result = execute(spec, cache_dir=store.cache_dir)
            store.write(result)
        return RunSummary(spec.run_id, result.status, result.error, seconds=time.monotonic() - started)


def lost(spec: RunSpec, reason: str) -> RunSummary:
    """A run that never finished (its worker died every time it was tried): stored as failed."""
    return RunSummary(spec.run_id, "failed", reason, failed_result(spec, reason))


def exit_reason(code: int | None) -> str:
    """A worker's exit code in words: ``killed by SIGKILL`` (what the out-of-memory killer sends too)."""
    if code is None:
        return "gone"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}" + (" (out of memory, or kill -9)" if name == "SIGKILL" else "")
    return f"exited with status {code}"


class Executor(Protocol):
    def map(self, task: RunTask, specs: Iterable[RunSpec], say: Say = say_on_stderr) -> Generator[RunSummary, None, None]:
        """Run ``task`` on every spec, yielding summaries in completion order. Closing the iterator
        (a signal, an error in the caller) cancels what has not run and stops the workers."""
        ...


def running_count(executor: Executor) -> int | None:
    """Runs the executor knows to be running, where it knows better than the markers (None)."""
    count = getattr(executor, "running", None)
    return count() if callable(count) else None
