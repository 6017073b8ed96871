"""What each optimizer's runs cost the machine: evaluations per second of search, peak memory.

Per optimizer, over its ok seeds, medians of:

- evaluations per second of the run's clock (the search alone, checkpoints paused), the final
  evaluations over the final seconds: every run file holds both, so old ones show it too;
- the peak resident set of the process during the run, and its increase over the run's start
  (``dfo_bench.memory`` says what each includes), in MiB;
- the peak of torch's CUDA allocations during the run, in MiB (runs on a GPU only).

Runs stored before memory was measured have no memory columns (or empty ones): their medians are
NaN and the report says "not recorded".
"""

from __future__ import annotations

import math

import pandas as pd

MIB = 2**20
MEMORY_COLUMNS = {"peak_rss_bytes": "peak_rss_mib", "rss_increase_bytes": "rss_increase_mib", "peak_cuda_bytes": "peak_cuda_mib"}
"""Stored column (bytes) → the cost table's column (MiB)."""


def cost_table(finals: pd.DataFrame) -> pd.DataFrame:
    """One row per optimizer label of the ok runs in ``finals`` (one row per run of one problem):
    ``optimizer``, ``seeds``, ``evaluations_per_second``, the ``MEMORY_COLUMNS`` values in MiB, and
    ``memory_seeds`` (the seeds whose memory was recorded)."""
    ok = finals[finals["status"] == "ok"]
    rate = ok["final_evaluations"].astype(float) / ok["final_seconds"].astype(float).where(ok["final_seconds"] > 0)
    memory = {mib: _column(ok, stored) / MIB for stored, mib in MEMORY_COLUMNS.items()}
    ok = ok.assign(evaluations_per_second=rate, **memory)
    rows = []
    for label, part in ok.groupby("optimizer_label", sort=True):
        rows.append(
            {
                "optimizer": label,
                "seeds": len(part),
                "evaluations_per_second": part["evaluations_per_second"].median(),
                **{mib: part[mib].median() for mib in MEMORY_COLUMNS.values()},
                "memory_seeds": int(part["peak_rss_mib"].notna().sum()),
            }
        )
    columns = ["optimizer", "seeds", "evaluations_per_second", *MEMORY_COLUMNS.values(), "memory_seeds"]
    return pd.DataFrame(rows, columns=columns)


def cost_note(table: pd.DataFrame) -> str:
    """How to read the cost table, and where its memory figures are missing."""
    note = (
        "Medians over the ok seeds. Evaluations/s: evaluations over seconds of the run's clock (the search alone, "
        "checkpoints paused; setup outside). Peak RSS: the largest resident set of the process while the run ran, "
        "including what the process held before it (interpreter, libraries, data kept by an earlier run of the same "
        "worker); increase: that peak minus the resident set at the run's start, what the run itself added. "
        "Peak CUDA: torch's largest allocation on the GPU during the run. MiB: 1,048,576 bytes."
    )
    missing = table["memory_seeds"] < table["seeds"]
    if missing.any():
        note += " Memory not recorded for runs stored before it was measured (or where /proc did not say)."
    return note


def _column(runs: pd.DataFrame, name: str) -> pd.Series:
    """A stored numeric column as floats; NaN where runs were stored before it existed."""
    return runs[name].astype(float) if name in runs else pd.Series(math.nan, index=runs.index)
