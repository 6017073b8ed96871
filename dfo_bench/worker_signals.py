"""Signals in a worker process of the local pool (``executors.local``), kept in a module that
imports nothing heavy.

A worker process is spawned, and it imports this module while it is still starting, before pebble's
worker code ignores SIGINT. Everything else (torch, the runner) is imported later, when the first
task is unpickled, and by then SIGINT is ignored. A Ctrl-C reaches the whole process group, and
in a worker still importing torch it would otherwise end in a ``KeyboardInterrupt`` traceback on
the user's terminal. The suite's process alone decides what a Ctrl-C stops.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_in_run = False
"""Whether this worker is executing a run (what SIGTERM has to unwind)."""


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    if _in_run:
        raise SystemExit(128 + signum)
    os._exit(128 + signum)  # idle: nothing to clean up, exit as pebble does


def worker_started() -> None:
    """The pool's initializer: SIGTERM during a run unwinds it (its temporary file and running
    marker are removed by their ``finally``) instead of pebble's immediate exit; SIGINT stays
    ignored (pebble's choice)."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


@contextmanager
def running() -> Iterator[None]:
    """Marks the worker as executing a run meanwhile."""
    global _in_run
    _in_run = True
    try:
        yield
    finally:
        _in_run = False
