"""Published results shipped with the package, shown beside ours where the problem matches.

``references.csv`` holds one row per published number: source, url, problem (a registered problem
name), optimizer, metric (a final metric of ours: test_accuracy, val_accuracy, test_f1,
train_loss), value (a fraction for accuracies and F1, a loss value for losses), and the protocol
notes that differ from a dfo-bench run. They were not re-run here; the report says so.
"""

from __future__ import annotations

from importlib.resources import files

import pandas as pd

COLUMNS = ["source", "url", "problem", "optimizer", "metric", "value", "protocol"]
METRICS = ("test_accuracy", "val_accuracy", "test_f1", "train_loss")


def load_references() -> pd.DataFrame:
    """Every published row shipped with dfo-bench."""
    with files("dfo_bench.report").joinpath("references.csv").open("r", encoding="utf-8") as handle:
        table = pd.read_csv(handle)
    return table[COLUMNS]


def references_for(problem: str, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The published rows for a registered problem name (empty when nothing was published on it)."""
    table = load_references() if table is None else table
    return table[table["problem"] == problem].reset_index(drop=True)


def reference_rows(matching: pd.DataFrame) -> pd.DataFrame:
    """One row per published (source, optimizer) with a column per metric, for the tables."""
    if matching.empty:
        return pd.DataFrame(columns=["source", "optimizer", "url", "protocol", *METRICS])
    wide = matching.pivot_table(
        index=["source", "optimizer", "url", "protocol"], columns="metric", values="value", aggfunc="first"
    )
    return wide.reindex(columns=list(METRICS)).reset_index()
