"""Executors on this machine: one run after another, or a pool of worker processes.

The pool is pebble's ``ProcessPool`` rather than ``concurrent.futures.ProcessPoolExecutor``: when
a worker dies (killed, out of memory) pebble fails that run's future alone (``ProcessExpired``)
and starts a new worker, where the standard pool breaks every pending future
(``BrokenProcessPool``). Stopping the pool terminates its workers (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from types import FrameType

from pebble import ProcessExpired, ProcessPool

from dfo_bench.executors.base import RunSummary, RunTask, Say, exit_reason, lost, say_on_stderr
from dfo_bench.spec import RunSpec


class SequentialExecutor:
    """One run after another in this process."""

    def map(self, task: RunTask, specs: Iterable[RunSpec], say: Say = say_on_stderr) -> Generator[RunSummary, None, None]:
        for spec in specs:
            yield task(spec)


_in_run = False
"""In a worker: whether a run is being executed (what SIGTERM has to unwind)."""


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    if _in_run:
        raise SystemExit(128 + signum)
    os._exit(128 + signum)  # idle: nothing to clean up, exit as pebble does


def _worker_started() -> None:
    """In each worker: SIGTERM during a run unwinds it (its temporary file and running marker are
    removed by their ``finally``) instead of pebble's immediate exit; SIGINT stays ignored
    (pebble's choice: the suite's process decides what a Ctrl-C stops)."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _run_in_worker(task: RunTask, spec: RunSpec) -> RunSummary:
    global _in_run
    _in_run = True
    try:
        return task(spec)
    finally:
        _in_run = False


class ProcessExecutor:
    """A local pool of fresh ('spawn') processes, so no torch state leaks from the suite's process."""

    def __init__(self, workers: int, retries: int = 1) -> None:
        self.workers = workers
        self.retries = retries
        self._running: set[Future[RunSummary]] = set()

    def running(self) -> int:
        return sum(1 for future in self._running if future.running())

    def map(self, task: RunTask, specs: Iterable[RunSpec], say: Say = say_on_stderr) -> Generator[RunSummary, None, None]:
        pool = ProcessPool(self.workers, initializer=_worker_started, context=multiprocessing.get_context("spawn"))
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
