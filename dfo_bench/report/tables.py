"""Per-problem summary tables: final metrics over seeds with 95 % bootstrap intervals, resources, rank.

Only runs stored as ok are averaged; failed runs are counted and listed, never mixed in, so a
crash cannot pull an optimizer's mean down (or, with NaN metrics, silently shrink its sample).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from dfo_bench.problems.metrics import CLASSIFICATION
from dfo_bench.report.declared import Declared
from dfo_bench.report.speed import normalised_seconds
from dfo_bench.report.stats import IQM_MIN_SEEDS, bootstrap_ci, iqm

CLASSIFIER = Declared(CLASSIFICATION)
FINAL_METRICS = tuple(CLASSIFIER.finals())
"""A classifier's final metrics summarised over seeds: accuracies and macro-F1 as fractions (0..1),
losses as values; another problem's are ``Declared.finals`` of what it declares."""


@dataclass(frozen=True)
class FinalMetric:
    """The final metric a problem's optimizers are ranked and tested on."""

    name: str
    label: str
    higher_is_better: bool
    spec: str = ".4g"
    """Its number format (a loss of any size by default; a declared metric's own)."""

    @property
    def column(self) -> str:
        return f"final_{self.name}"


TEST_ACCURACY = FinalMetric("test_accuracy", "test accuracy", True, ".4f")
TEST_LOSS = FinalMetric("test_loss", "test loss", False)


def primary_metric(finals: pd.DataFrame, declared: Declared = CLASSIFIER) -> FinalMetric:
    """The problem's primary metric on the test set where its runs measured it (a classifier's test
    accuracy), else the test loss (test functions)."""
    ok = finals[finals["status"] == "ok"]
    p = declared.primary
    column = f"final_test_{p.name}"
    if column in ok and ok[column].notna().any():
        return FinalMetric(f"test_{p.name}", f"test {p.label}", p.higher_is_better, p.spec)
    return TEST_LOSS


def final_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: its last checkpoint, whose ``final_*`` columns hold the run's outcome."""
    ordered = runs.sort_values(["run_id", "checkpoint"])
    return ordered.groupby("run_id", sort=False).tail(1).reset_index(drop=True)


def seed_ranks(ok: pd.DataFrame, metric: FinalMetric = TEST_ACCURACY) -> pd.Series:
    """Each ok run's rank by the final metric among the ok runs of its seed (1 = best, ties averaged;
    values equal to 12 decimals tie, so floating-point noise does not order them)."""
    sign = -1.0 if metric.higher_is_better else 1.0
    return ok.groupby("seed")[metric.column].transform(lambda values: rankdata(np.round(sign * values.to_numpy(float), 12)))


def _describe(values: pd.Series, seed: int) -> dict[str, float]:
    """Mean, sd (ddof 1), median, IQM (>= 5 seeds, else NaN) and the 95 % bootstrap CI of the mean."""
    x = values.dropna().to_numpy(float)
    low, high = bootstrap_ci(x, seed=seed)
    return {
        "mean": float(x.mean()) if x.size else math.nan,
        "sd": float(x.std(ddof=1)) if x.size > 1 else math.nan,
        "median": float(np.median(x)) if x.size else math.nan,
        "iqm": float(iqm(x)) if x.size >= IQM_MIN_SEEDS else math.nan,
        "ci_low": low,
        "ci_high": high,
    }


def summary_table(finals: pd.DataFrame, metric: FinalMetric | None = None, declared: Declared = CLASSIFIER) -> pd.DataFrame:
    """One row per optimizer of one problem, best mean rank first.

    For each of the final metrics (``declared.finals()``; a classifier's: ``FINAL_METRICS``):
    ``<metric>_{mean,sd,median,iqm,ci_low,ci_high}`` over the ok seeds. ``evaluations``,
    ``samples`` (forward-equivalent; a control problem's environment steps), ``episodes`` (a
    control problem's, else NaN) and ``seconds`` are the mean final usage of the ok runs
    (seconds of the run's clock: the search alone); ``setup_seconds`` the mean time before the
    clock started (data, pre-training, kernels); ``seconds_normalised`` the mean seconds rescaled
    to the problem's median speed probe (``speed.normalised_seconds``; NaN where a run was stored
    before the probe); ``coordinates`` is the size of the space searched; ``pretrain_samples`` the
    pre-training cost the runs started from (NaN without pre-training), kept apart from the
    budget; ``rank`` the mean over seeds of the rank by the primary metric within the seed.
    """
    metric = metric or primary_metric(finals, declared)
    names = declared.finals()
    ok = finals[finals["status"] == "ok"]
    # Results stored before search spaces and pre-training existed searched all weights from scratch.
    ok = ok.assign(
        search_dim=ok["search_dim"] if "search_dim" in ok else ok["dim"],
        pretrain_samples=ok["pretrain_samples"] if "pretrain_samples" in ok else float("nan"),
        setup_seconds=ok["setup_seconds"].astype(float) if "setup_seconds" in ok else float("nan"),
    )
    ok = ok.assign(seconds_normalised=normalised_seconds(ok))
    ok = ok.assign(rank=seed_ranks(ok, metric))
    rows = []
    for label, part in ok.groupby("optimizer_label", sort=True):
        row: dict[str, object] = {"optimizer": label}
        for i, name in enumerate(names):
            column = f"final_{name}"
            # The bootstrap's seed is the metric's place in a classifier's list (so intervals reported
            # before problems declared their metrics stay the same), after it for other metrics.
            seed = FINAL_METRICS.index(name) if name in FINAL_METRICS else len(FINAL_METRICS) + i
            described = _describe(part[column] if column in part else pd.Series(dtype=float), seed=seed)
            row |= {f"{name}_{key}": value for key, value in described.items()}
        row |= {
            "evaluations": part["final_evaluations"].mean(),
            "samples": part["final_samples"].mean(),
            "episodes": part["final_episodes"].mean() if "final_episodes" in part else float("nan"),
            "seconds": part["final_seconds"].mean(),
            "seconds_normalised": part["seconds_normalised"].mean(skipna=False),
            "setup_seconds": part["setup_seconds"].mean(),
            "coordinates": part["search_dim"].mean(),
            "pretrain_samples": part["pretrain_samples"].mean(),
            "rank": part["rank"].mean(),
        }
        rows.append(row)
    counts = pd.crosstab(finals["optimizer_label"], finals["status"]).reindex(columns=["ok", "failed"], fill_value=0)
    table = pd.DataFrame(rows, columns=["optimizer", *_summary_columns(names)]).set_index("optimizer")
    table = table.reindex(counts.index).assign(seeds_ok=counts["ok"], seeds_failed=counts["failed"])
    table = table.rename_axis("optimizer").reset_index()
    return table.sort_values(["rank", "optimizer"], na_position="last", ignore_index=True)


def _summary_columns(names: list[str]) -> list[str]:
    stats = ("mean", "sd", "median", "iqm", "ci_low", "ci_high")
    resources = (
        "evaluations",
        "samples",
        "episodes",
        "seconds",
        "seconds_normalised",
        "setup_seconds",
        "coordinates",
        "pretrain_samples",
        "rank",
    )
    return [*(f"{m}_{s}" for m in names for s in stats), *resources]


def failed_runs(finals: pd.DataFrame) -> pd.DataFrame:
    """The failed runs of one problem with their error on one line (messages may span several)."""
    failed = finals[finals["status"] == "failed"].sort_values(["optimizer_label", "seed"])
    error = failed["error"].fillna("unknown error").map(lambda text: " ".join(str(text).split()))
    return failed[["run_id", "optimizer_label", "seed"]].assign(error=error).reset_index(drop=True)
