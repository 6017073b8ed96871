"""Executors on this machine: one run after another, or a pool of worker processes.

The pool is pebble's ``ProcessPool`` rather than ``concurrent.futures.ProcessPoolExecutor``: when
a worker dies (killed, out of memory) pebble fails that run's future alone (``ProcessExpired``)
and starts a new worker, where the standard pool breaks every pending future
(``BrokenProcessPool``). Stopping the pool terminates its workers (SIGTERM, then SIGKILL). The
workers' signal handling lives in ``dfo_bench.worker_signals``, which a starting worker imports
before anything heavy (why: its docstring).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait

from pebble import ProcessExpired, ProcessPool

from dfo_bench.executors.base import RunSummary, RunTask, Say, exit_reason, lost, say_on_stderr
from dfo_bench.spec import RunSpec
from dfo_bench.worker_signals import running, worker_started


class SequentialExecutor:
    """One run after another in this process."""

    def map(self, task: RunTask, specs: Iterable[RunSpec], say: Say = say_on_stderr) -> Generator[RunSummary, None, None]:
        for spec in specs:
            yield task(spec)


def _run_in_worker(task: RunTask, spec: RunSpec) -> RunSummary:
    with running():
        return task(spec)


class ProcessExecutor:
    """A local pool of fresh ('spawn') processes, so no torch state leaks from the suite's process."""

    def __init__(self, workers: int, retries: int = 1) -> None:
        self.workers = workers
        self.retries = retries
        self._running: set[Future[RunSummary]] = set()

    def running(self) -> int:
        return sum(1 for future in self._running if future.running())

    def map(self, task: RunTask, specs: Iterable[RunSpec], say: Say = say_on_stderr) -> Generator[RunSummary, None, None]:
        pool = ProcessPool(self.workers, initializer=worker_started, context=multiprocessing.get_context("spawn"))
        tries: dict[Future[RunSummary], tuple[RunSpec, int]] = {}

        def submit(spec: RunSpec, attempt: int) -> None:
            tries[pool.schedule(_run_in_worker, args=(task, spec))] = (spec, attempt)

        try:
            for spec in specs:
                submit(spec, 1)
            while tries:
                self._running = set(tries)
                done, _ = wait(list(tries), timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    spec, attempt = tries.pop(future)
                    try:
                        summary = future.result()
                    except ProcessExpired as exc:
                        reason = f"its worker {exit_reason(exc.exitcode)}"
                        if attempt <= self.retries:
                            say(f"{spec.run_id}: {reason}; running it again (retry {attempt} of {self.retries})")
                            submit(spec, attempt + 1)
                            continue
                        summary = lost(spec, f"{reason}, {attempt} times")
                    except Exception as exc:  # the task itself failed (e.g. the results folder is full)
                        summary = lost(spec, f"{type(exc).__name__}: {exc}")
                    yield summary
        finally:
            self._running = set()
            pool.stop()
            pool.join(timeout=10)
