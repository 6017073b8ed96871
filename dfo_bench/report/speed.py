"""Whether the seconds of one problem's runs can be compared: their machines and speed probes.

Every run stores the machine it ran on (``host``) and a speed probe taken at its start, outside
its clock (``dfo_bench.probe``): a float32 GEMM rate (``probe_gflops``) and a copy bandwidth
(``probe_gbps``). Runs of one comparison that ran on different machines, or whose probes differ
by more than ``TOLERANCE`` (another day's load), measured the machines as much as the methods:
the report says so beside the seconds columns and plots, and offers each run's seconds rescaled
to the comparison's median probe.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pandas as pd

TOLERANCE = 0.25
"""How much the probes of one comparison may differ (largest / smallest − 1) before the report
says that its seconds are not comparable as they stand."""
NORMALISED_LABEL = "seconds × probe GFLOP/s / median probe"
"""The rescaled seconds' column, named by what it computes."""


@dataclass(frozen=True)
class SpeedCheck:
    """What the report says about the seconds of one problem's runs."""

    comparable: bool
    """One machine and probes within ``TOLERANCE``; False also when the speed was not recorded."""
    recorded: bool
    """Whether every run has a probe (runs stored before the probe existed have none)."""
    seconds_budget: bool
    """Whether the budget is in wall seconds: then what the runs reached depends on the machine."""
    note: str
    """One or two sentences for beside the seconds columns and plots."""

    @property
    def caution(self) -> bool:
        """Whether the seconds plots need the note beside them."""
        return self.seconds_budget or not self.comparable


def normalised_seconds(runs: pd.DataFrame, column: str = "final_seconds") -> pd.Series:
    """Each run's seconds rescaled to the median GEMM probe of ``runs``: seconds × probe / median,
    what the run would have taken on a machine of the median speed if its time scaled with the
    GEMM rate (a first-order correction); NaN for a run without a probe."""
    return runs[column] * speed_factors(runs)


def speed_factors(runs: pd.DataFrame) -> pd.Series:
    """What ``normalised_seconds`` multiplies each row's seconds by: its GEMM probe over the median
    probe of ``runs`` (one row per run: the median is over runs); NaN for a run without a probe."""
    gflops = _probe(runs, "probe_gflops")
    return gflops / gflops.median()


def check_speed(finals: pd.DataFrame) -> SpeedCheck:
    """Machines and probes of the ok runs in ``finals`` (one row per run of one problem)."""
    ok = finals[finals["status"] == "ok"]
    gflops, gbps = _probe(ok, "probe_gflops"), _probe(ok, "probe_gbps")
    missing = int(gflops.isna().sum())
    machines = _machines(ok)
    spread = max(_spread(gflops), _spread(gbps))
    seconds_budget = "budget_seconds" in ok and bool(ok["budget_seconds"].notna().any())
    budget_note = (
        " The budget is in wall seconds: how far each run got depends on the machine it ran on and on its load, "
        "so these results hold for this machine only."
        if seconds_budget
        else ""
    )
    if missing == len(ok):
        note = "Speed not recorded (runs stored before the speed probe): whether their seconds are comparable is unknown."
        return SpeedCheck(False, False, seconds_budget, note + budget_note)
    rates = f"GEMM {_range(gflops, 'GFLOP/s')}, copy {_range(gbps, 'GB/s')}"
    unrecorded = f" Speed not recorded for {missing} of {len(ok)} runs." if missing else ""
    if machines <= 1 and spread <= TOLERANCE:
        note = f"Seconds comparable: one machine, speed probes within {TOLERANCE:.0%} ({rates})."
        return SpeedCheck(not missing, not missing, seconds_budget, note + unrecorded + budget_note)
    why = []
    if machines > 1:
        why.append(f"ran on {machines} machines")
    if spread > TOLERANCE:
        why.append(f"have speed probes up to {1 + spread:.3g}× apart, beyond the {TOLERANCE:.0%} tolerated")
    note = (
        f"Seconds not comparable as they stand: the runs {' and '.join(why)} ({rates}). "
        f"'{NORMALISED_LABEL}' rescales each run to the median probe's speed."
    )
    return SpeedCheck(False, not missing, seconds_budget, note + unrecorded + budget_note)


def _probe(runs: pd.DataFrame, column: str) -> pd.Series:
    """A probe column as floats; NaN for runs stored before it existed."""
    return runs[column].astype(float) if column in runs else pd.Series(math.nan, index=runs.index)


def _spread(values: pd.Series) -> float:
    """Largest / smallest − 1 of the recorded values (0 with fewer than two)."""
    recorded = values.dropna()
    return float(recorded.max() / recorded.min() - 1) if len(recorded) > 1 and recorded.min() > 0 else 0.0


def _range(values: pd.Series, unit: str) -> str:
    recorded = values.dropna()
    low, high = recorded.min(), recorded.max()
    return f"{low:.3g} {unit}" if math.isclose(low, high, rel_tol=0.005) else f"{low:.3g}–{high:.3g} {unit}"


def _machines(runs: pd.DataFrame) -> int:
    """Distinct machines (CPU model and logical cores) among the runs that recorded their host."""
    if "host" not in runs:
        return 0
    found = set()
    for text in runs["host"].dropna().unique():
        try:
            host = json.loads(str(text))
            found.add((host.get("cpu"), host.get("cores")))
        except (ValueError, AttributeError):
            found.add((str(text), None))
    return len(found)
