"""Per-problem summary tables: final metrics over seeds, resources used, and mean rank.

Only runs stored as ok are averaged; failed runs are counted and listed, never mixed in, so a
crash cannot pull an optimizer's mean down (or, with NaN metrics, silently shrink its sample).
"""

from __future__ import annotations

import pandas as pd
from scipy.stats import rankdata


def final_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: its last checkpoint, whose ``final_*`` columns hold the run's outcome."""
    ordered = runs.sort_values(["run_id", "checkpoint"])
    return ordered.groupby("run_id", sort=False).tail(1).reset_index(drop=True)


def seed_ranks(ok: pd.DataFrame) -> pd.Series:
    """Each ok run's rank by final test accuracy among the ok runs of its seed (1 = best, ties averaged)."""
    return ok.groupby("seed")["final_test_accuracy"].transform(lambda accuracy: rankdata(-accuracy.to_numpy()))


def summary_table(finals: pd.DataFrame) -> pd.DataFrame:
    """One row per optimizer of one problem, best mean rank first.

    Accuracies and F1 are fractions (0..1); ``evaluations``, ``samples`` (forward-equivalent) and
    ``seconds`` are the mean final usage of the ok runs; sd is over seeds (ddof 1, NaN for one seed);
    ``coordinates`` is the size of the space searched; ``pretrain_samples`` the pre-training cost
    the runs started from (NaN without pre-training), kept apart from the budget.
    """
    ok = finals[finals["status"] == "ok"]
    # Results stored before search spaces and pre-training existed searched all weights from scratch.
    ok = ok.assign(
        search_dim=ok["search_dim"] if "search_dim" in ok else ok["dim"],
        pretrain_samples=ok["pretrain_samples"] if "pretrain_samples" in ok else float("nan"),
    )
    table = ok.assign(rank=seed_ranks(ok)).groupby("optimizer_label").agg(
        test_accuracy_mean=("final_test_accuracy", "mean"),
        test_accuracy_sd=("final_test_accuracy", "std"),
        test_accuracy_median=("final_test_accuracy", "median"),
        val_accuracy_mean=("final_val_accuracy", "mean"),
        val_accuracy_sd=("final_val_accuracy", "std"),
        test_f1_mean=("final_test_f1", "mean"),
        test_f1_sd=("final_test_f1", "std"),
        evaluations=("final_evaluations", "mean"),
        samples=("final_samples", "mean"),
        seconds=("final_seconds", "mean"),
        coordinates=("search_dim", "mean"),
        pretrain_samples=("pretrain_samples", "mean"),
        rank=("rank", "mean"),
    )
    counts = pd.crosstab(finals["optimizer_label"], finals["status"]).reindex(columns=["ok", "failed"], fill_value=0)
    table = table.reindex(counts.index).assign(seeds_ok=counts["ok"], seeds_failed=counts["failed"])
    table = table.rename_axis("optimizer").reset_index()
    return table.sort_values(["rank", "optimizer"], na_position="last", ignore_index=True)


def failed_runs(finals: pd.DataFrame) -> pd.DataFrame:
    """The failed runs of one problem with their error on one line (messages may span several)."""
    failed = finals[finals["status"] == "failed"].sort_values(["optimizer_label", "seed"])
    error = failed["error"].fillna("unknown error").map(lambda text: " ".join(str(text).split()))
    return failed[["run_id", "optimizer_label", "seed"]].assign(error=error).reset_index(drop=True)
