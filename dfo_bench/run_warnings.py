"""A run's warnings, each shown when first raised and counted after: a library that warns every
generation with its values in the text (pycma's step-size check, ``elements of z2[k] are larger
than 55: …``) printed about 150 two-line warnings a run of sep-CMA-ES on the MNIST MLP, which
Python's once-per-place filter never folds because the text differs each time.

Hand-written because ``warnings`` has no filter keyed on a message's shape. ``warnings`` keeps its
hooks process-wide, so the counting is done only on the main thread (process-pool and submitit
workers, sequential suites); a run on another thread (Dask's threads, a suite started from a
thread through the API) shows its warnings as Python does."""

from __future__ import annotations

import re
import threading
import warnings
from types import TracebackType
from typing import Any, TextIO

NUMBER = re.compile(r"[-+]?\d+(\.\d*)?([eE][-+]?\d+)?")
"""What differs between repeats of one warning: its values."""

Key = tuple[type[Warning], str, int, str]


class WarningsOnce:
    """Within ``with WarningsOnce(run_id):``, a warning whose category, place and text (numbers
    aside) were seen before in the run is counted, not shown; on leaving, each one raised more
    than once is shown again with its count, naming ``run_id``."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.counts: dict[Key, int] = {}
        self._first: dict[Key, Warning | str] = {}
        self._saved: Any = None
        self._guard: warnings.catch_warnings | None = None

    def __enter__(self) -> WarningsOnce:
        if threading.current_thread() is threading.main_thread():
            self._guard = warnings.catch_warnings()  # restores the hook on leaving
            self._guard.__enter__()
            self._saved = warnings.showwarning
            warnings.showwarning = self._show
        return self

    def _show(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        key = (category, filename, lineno, NUMBER.sub("#", str(message)))
        self.counts[key] = self.counts.get(key, 0) + 1
        if self.counts[key] == 1:
            self._first[key] = message
            self._saved(message, category, filename, lineno, file, line)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._guard is None:
            return
        self._guard.__exit__(kind, error, trace)
        for key, times in self.counts.items():
            if times > 1:
                category, filename, lineno, _ = key
                text = f"raised {times} times in run {self.run_id}, the first shown when raised: {self._first[key]}"
                try:
                    shown: Warning | str = category(text)
                except Exception:  # a category that wants other arguments
                    shown = text
                warnings.showwarning(shown, category, filename, lineno)
