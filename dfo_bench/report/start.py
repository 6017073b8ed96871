"""Improvement over the start: does a method improve the pre-trained point it was given?

On fine-tuning protocols (HBDE's: a gradient-free search started from Adam-pre-trained weights)
the first question is not "does A beat B" but "does A move its own start at all". Every run
measures its starting point at its first checkpoint (0 evaluations: the pre-trained weights, or
their image in the space searched, e.g. HBDE's block means) and its recommended point at the end,
on the same test images, so start and final are paired within the run.

Per optimizer and test metric: the mean start and final value, the mean change with its 95 %
percentile-bootstrap interval over seeds, how many seeds improved, and a one-sided Wilcoxon
signed-rank test of "final better than start" (exact for small samples, as scipy chooses),
Holm-corrected over the optimizers of the problem. With n seeds the smallest one-sided p is
1 / 2**n, so with k optimizers more than log2(k / α) seeds are needed; the note says when there
are fewer. Shown only for problems whose runs start from pre-trained weights: from a random
start every method improves and the test says nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dfo_bench.report.stats import ALPHA, bootstrap_ci, holm, paired_wilcoxon
from dfo_bench.report.tables import final_rows

START_METRICS = {"test_accuracy": "test accuracy", "test_f1": "test macro-F1"}
"""Measured at every checkpoint of a classifier; higher is better."""


def one_sided_p(start: np.ndarray, final: np.ndarray) -> float:
    """p of the one-sided Wilcoxon signed-rank test "final > start" (ties within 1e-12)."""
    return paired_wilcoxon(final, start, alternative="greater")


def seeds_needed_one_sided(comparisons: int, alpha: float = ALPHA) -> int:
    """Seeds before a one-sided exact Wilcoxon p (at best 1 / 2**n) survives Holm over ``comparisons``."""
    return max(1, math.floor(math.log2(comparisons / alpha)) + 1)  # the least n with comparisons / 2**n < alpha


@dataclass(frozen=True)
class StartAnalysis:
    """``table``: one row per (metric, optimizer): metric, optimizer, seeds, start, final, change,
    change_ci_low, change_ci_high, improved (seeds), p (one-sided), p_holm, significant (bool)."""

    table: pd.DataFrame
    note: str


def _pairs(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per ok run: its seed, the metric at 0 evaluations and the final one (runs stored without a
    checkpoint at 0 evaluations are left out)."""
    ok = runs[runs["status"] == "ok"].sort_values(["run_id", "checkpoint"])
    first = ok.groupby("run_id", sort=False).head(1)
    first = first[first["evaluations"] == 0]
    last = final_rows(ok).set_index("run_id")
    return pd.DataFrame(
        {
            "optimizer": first["optimizer_label"].to_numpy(),
            "seed": first["seed"].to_numpy(),
            "start": first[metric].to_numpy(float),
            "final": last.loc[first["run_id"], f"final_{metric}"].to_numpy(float),
        }
    ).dropna()


def analyse_start(runs: pd.DataFrame, alpha: float = ALPHA) -> StartAnalysis | None:
    """Start against final for one problem's runs; None when they do not start from pre-trained weights."""
    if "pretrain_samples" not in runs or not runs["pretrain_samples"].notna().any():
        return None
    rows = []
    for metric, label in START_METRICS.items():
        if metric not in runs or f"final_{metric}" not in runs or not runs[metric].notna().any():
            continue
        pairs = _pairs(runs, metric)
        block: list[dict[str, Any]] = []
        for optimizer, part in pairs.groupby("optimizer", sort=True):
            change = (part["final"] - part["start"]).to_numpy(float)
            low, high = bootstrap_ci(change)
            block.append(
                {
                    "metric": label,
                    "optimizer": str(optimizer),
                    "seeds": len(part),
                    "start": float(part["start"].mean()),
                    "final": float(part["final"].mean()),
                    "change": float(change.mean()),
                    "change_ci_low": low,
                    "change_ci_high": high,
                    "improved": int((change > 1e-12).sum()),
                    "p": one_sided_p(part["start"].to_numpy(), part["final"].to_numpy()),
                }
            )
        adjusted = holm([float(r["p"]) for r in block])
        rows += [r | {"p_holm": float(p), "significant": bool(p < alpha)} for r, p in zip(block, adjusted, strict=True)]
    if not rows:
        return None
    table = pd.DataFrame(rows)
    k = int(table.groupby("metric")["optimizer"].count().max())
    needed = seeds_needed_one_sided(k, alpha)
    fewest = int(table["seeds"].min())
    note = (
        "Start: each run's own point at 0 evaluations (the pre-trained weights, or their image in the space searched); "
        "final: its recommended point at the end; both on the same test images. Change: mean of final − start over seeds "
        "with its 95 % bootstrap interval; p: one-sided Wilcoxon signed-rank test of final > start, Holm-adjusted over "
        f"the {k} optimizer(s); significant (*) at α = {alpha}."
    )
    if fewest < needed:
        note += (
            f" With {fewest} seed(s) the smallest one-sided p is {0.5**fewest:.3g}, and Holm over {k} optimizer(s) "
            f"multiplies it by up to {k}: at least {needed} seeds are needed before any change can be significant."
        )
    return StartAnalysis(table, note)
