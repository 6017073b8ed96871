"""The progress line of a running suite: runs done / failed / running (and left to another
process on the same folder), elapsed and time left.

tqdm draws it (on stderr, and only when stderr is a terminal; in a Jupyter notebook, as a notebook
widget through ``tqdm.auto``); a small thread refreshes it every second, so the running count and
elapsed time move between results too.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

from tqdm import std
from tqdm.auto import tqdm

NOTEBOOK = tqdm is not std.tqdm
"""Whether ``tqdm.auto`` found a notebook (whose output is never a terminal, yet shows a bar)."""


class Progress:
    def __init__(self, total: int, name: str, running: Callable[[], int], enabled: bool = True) -> None:
        self.done = 0
        self.failed = 0
        self.elsewhere = 0
        self._running = running
        self._lock = threading.Lock()
        self._bar = tqdm(
            total=total, desc=name, unit="run", file=sys.stderr, disable=(False if NOTEBOOK else None) if enabled else True
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not self._bar.disable:
            self._thread = threading.Thread(target=self._refresh_every_second, daemon=True)
            self._thread.start()

    def _postfix(self) -> str:
        counts = f"ok={self.done} failed={self.failed}" + (f" elsewhere={self.elsewhere}" if self.elsewhere else "")
        try:
            running = self._running()
        except Exception:  # a count that cannot be had now is shown as unknown
            return counts
        return f"{counts} running={running}"

    def _refresh_every_second(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                self._bar.set_postfix_str(self._postfix(), refresh=True)

    def advance(self, status: str) -> None:
        with self._lock:
            if status == "ok":
                self.done += 1
            elif status == "failed":
                self.failed += 1
            else:  # left to another process
                self.elsewhere += 1
            self._bar.set_postfix_str(self._postfix(), refresh=False)
            self._bar.update()

    def discount(self, runs: int) -> None:
        """``runs`` counted in the total will not run (stored already, or a tuning trial's runs
        shared with an earlier trial); negative: runs to count again (left to another process
        that gave them up)."""
        if runs:
            with self._lock:
                self._bar.total = max(self._bar.n, (self._bar.total or 0) - runs)
                self._bar.refresh()

    def write(self, line: str) -> None:
        """A line above the bar (or on stderr when there is no bar)."""
        with self._lock:
            self._bar.write(line, file=sys.stderr)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            self._bar.close()
