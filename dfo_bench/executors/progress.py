"""The progress line of a running suite: runs done / failed / running (and left to another
process on the same folder), elapsed and time left.

The time left weighs each run by its expected cost, the plan's estimate of its wall seconds
(``dfo-bench run`` calibrates one before it starts), or 1 for every run where there is no plan.
Runs finished here give the pace: their wall seconds over their expected cost. Each run not yet
started owes its cost at that pace, each running one the same less its age (from its running
marker); the sum is shared among the runs that go at once (the executor's workers, or the most
seen running), and the time left is never less than the longest one owed; none is said when every
run left is running past what it owes. Before a run has finished here the pace is the plan's own
(its estimates taken as they are) where the costs are its seconds, and unknown where they are
not. Counting finished runs alone (elapsed / finished × left) said about as many times too much
as there are workers on the first line, when the other workers' runs were nearly done; and a
run's mean alone, after a suite's tuning trials (a tenth of the budget each), said a tenth of the
evaluation runs' time.

On a terminal tqdm draws it on stderr (in a Jupyter notebook, as a notebook widget through
``tqdm.auto``), and a small thread refreshes it every second, so the running count and elapsed
time move between results too. Where stderr is a file or a pipe (a Slurm log, ``2> log``), a bar
redrawn every second would fill it with carriage returns; there it is a plain line after a run
ends, at most one every ``LINE_SECONDS`` and always after the last, and one after ``QUIET_SECONDS``
without a line while runs go on (runs of hours would otherwise leave the log without a word from
the first line to the first result).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

from tqdm import notebook
from tqdm.auto import tqdm

NOTEBOOK = issubclass(tqdm, notebook.tqdm)
"""Whether ``tqdm.auto`` found a notebook (whose output is never a terminal, yet shows a bar)."""
LINE_SECONDS = 60.0
"""Least time between two progress lines where stderr is not a terminal."""
QUIET_SECONDS = 600.0
"""Longest time without a progress line where stderr is not a terminal, while runs go on."""


class Progress:
    """Counts of a suite's finished runs, shown as a bar on a terminal or as lines elsewhere."""

    def __init__(
        self,
        total: int,
        name: str,
        running: Callable[[], int],
        ages: Callable[[], list[tuple[float, float]]] = list,
        at_once: int = 1,
        enabled: bool = True,
        work: float | None = None,
        seconds: bool = False,
    ) -> None:
        """``running``: how many runs are running; ``ages``: (seconds since it started, its
        expected cost) of each, where the workers write running markers (then their count is the
        one used: an engine's own count may include tasks queued on a worker); where not, a
        running run is taken as half done. ``at_once``: the runs the executor runs at once, as far
        as known (more, when more are seen running). ``work``: the expected cost of all ``total``
        runs; None: each costs 1. ``seconds``: the costs are the plan's estimates of each run's
        wall seconds, to be taken as they are until a run has finished here."""
        self.done = 0
        self.failed = 0
        self.elsewhere = 0
        self._running, self._ages = running, ages
        self._took: list[tuple[float, float]] = []
        """(wall seconds, expected cost) of each run finished here."""
        self._work = float(total) if work is None else work
        """Expected cost of the runs not finished, in ``work``'s units."""
        self._plan_seconds = seconds
        """Whether the costs are the plan's seconds, a pace of 1 until a run has finished here."""
        self._at_once = max(at_once, 1)
        """The runs that go at once: the executor's, or the most seen running."""
        self._lock = threading.Lock()
        terminal = NOTEBOOK or sys.stderr.isatty()
        self._bar = tqdm(
            total=total,
            desc=name,
            unit="run",
            file=sys.stderr,
            disable=not (enabled and terminal),
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]",
        )
        self._name, self._started = name, time.monotonic()
        self._lines = enabled and not terminal
        """Whether progress is written as plain lines (stderr not a terminal, progress wanted)."""
        self._said, self._written = self._started - LINE_SECONDS, 0
        """When the last line after a run's end was written (monotonic seconds), and how many runs
        had finished at the last line."""
        self._heard = self._started
        """When the last line of any kind was written, or the line started."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not self._bar.disable or self._lines:
            target = self._line_when_quiet if self._lines else self._refresh_every_second
            self._thread = threading.Thread(target=target, daemon=True)
            self._thread.start()

    @property
    def finished(self) -> int:
        """Runs ended so far: ok, failed, or left to another process."""
        return self.done + self.failed + self.elsewhere

    def _postfix(self) -> str:
        counts = f"ok={self.done} failed={self.failed}" + (f" elsewhere={self.elsewhere}" if self.elsewhere else "")
        try:
            running = self._running()
        except Exception:  # a count that cannot be had now is shown as unknown
            return counts
        return f"{counts} running={running}"

    def _left(self) -> float | None:
        """Seconds left (module docstring); None when none is left, before a run has finished here
        without the plan's seconds, or when every run left is running past what it owes (overdue:
        no guess)."""
        finished, total = self.finished, int(self._bar.total or 0)
        if finished >= total or not (self._took or self._plan_seconds):
            return None
        took = sum(cost for _, cost in self._took)
        pace = sum(seconds for seconds, _ in self._took) / max(took, 1e-9) if self._took else 1.0
        try:
            ages = self._ages()
            running = min(len(ages) or self._running(), total - finished)
        except Exception:  # counts that cannot be had now: every run owed in full
            ages, running = [], 0
        self._at_once = max(self._at_once, running)
        mean = max(self._work, 0.0) / (total - finished)  # expected cost of a run not finished
        ages = ages[:running] + [(pace * mean / 2, mean)] * (running - len(ages))
        owed = [max(pace * cost - age, 0.0) for age, cost in ages]
        waiting = total - finished - running
        if waiting:
            owed += [pace * max(self._work - sum(cost for _, cost in ages), 0.0) / waiting] * waiting
        return max(sum(owed) / self._at_once, *owed) if max(owed, default=0.0) > 0 else None

    def _bar_postfix(self) -> str:
        left = self._left()
        return self._postfix() + ("" if left is None else f", about {tqdm.format_interval(left)} left")

    def _refresh_every_second(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                self._bar.set_postfix_str(self._bar_postfix(), refresh=True)

    def _line_when_quiet(self) -> None:
        while not self._stop.wait(min(1.0, QUIET_SECONDS)):
            with self._lock:
                if self.finished < (self._bar.total or 0) and time.monotonic() - self._heard >= QUIET_SECONDS:
                    self._line(quiet=True)

    def advance(self, status: str, seconds: float | None = None, cost: float = 1.0) -> None:
        """One run ended: ``ok``, ``failed`` or left to another process; ``seconds``: its wall
        time, where it ran here; ``cost``: its expected cost, in ``work``'s units."""
        with self._lock:
            self._work -= cost
            if status == "ok":
                self.done += 1
            elif status == "failed":
                self.failed += 1
            else:  # left to another process
                self.elsewhere += 1
            if seconds is not None:
                self._took.append((seconds, cost))
            if not self._bar.disable:  # a hidden bar's postfix would read the markers for nothing
                self._bar.set_postfix_str(self._bar_postfix(), refresh=False)
            self._bar.update()
            if self._lines:
                self._line()

    def _line(self, force: bool = False, quiet: bool = False) -> None:
        """One plain progress line after a run's end, unless one was written after a run's end less
        than ``LINE_SECONDS`` ago and runs are left (``force``: always); ``quiet``: the line after
        ``QUIET_SECONDS`` without one, which does not hold back the next run's."""
        now, finished, total = time.monotonic(), self.finished, self._bar.total or 0
        if now - self._said < LINE_SECONDS and finished < total and not (force or quiet):
            return
        if not quiet:
            self._said = now
        self._heard, self._written, elapsed = now, finished, now - self._started
        line = f"{self._name}: {finished}/{total} runs ({self._postfix()}), {tqdm.format_interval(elapsed)} elapsed"
        left = self._left()
        if left is not None:
            line += f", about {tqdm.format_interval(left)} left"
        sys.stderr.write(line + "\n")  # one write: a reader of the stream never sees half a line
        sys.stderr.flush()

    def discount(self, runs: int, cost: float | None = None) -> None:
        """``runs`` counted in the total will not run (stored already, or a tuning trial's runs
        shared with an earlier trial); negative: runs to count again (left to another process
        that gave them up). ``cost``: their expected cost (negative with them), None: ``runs``."""
        if runs:
            with self._lock:
                self._work -= runs if cost is None else cost
                self._bar.total = max(self.finished, (self._bar.total or 0) - runs)
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
            if self._lines and self.finished != self._written:
                self._line(force=True)
