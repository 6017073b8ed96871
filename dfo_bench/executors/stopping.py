"""Ctrl-C and SIGTERM on a running suite: stop cleanly instead of dying mid-way.

The first SIGINT or SIGTERM raises ``Interrupted`` in the suite's main thread; unwinding closes
the executor's iterator, whose ``finally`` cancels the pending runs and stops the workers, and
the caller then says how many runs were stored and exits 128 + the signal's number (130, 143).
Further signals while stopping are ignored, so a second Ctrl-C cannot cut the clean-up short.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A signal asked the suite to stop (a BaseException: a run's ``except Exception`` must not
    store it as a failed run)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise ``Interrupted`` once; the handlers are restored after."""
    previous: dict[int, Any] = {signum: signal.getsignal(signum) for signum in SIGNALS}

    def handle(signum: int, frame: FrameType | None) -> None:
        for each in SIGNALS:
            signal.signal(each, signal.SIG_IGN)
        raise Interrupted(signum)

    for each in SIGNALS:
        signal.signal(each, handle)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
