"""Published results shipped with the package, shown beside ours where the problem matches.

``references.csv`` holds one row per published number: source, url, problem (a registered problem
name), env (for a control problem, the gymnasium ids it applies to as a shell pattern such as
``Hopper-v*``; empty: any), optimizer, metric (a final metric of ours: test_accuracy,
val_accuracy, test_f1, train_loss; val_return for a target), value (a fraction for accuracies and
F1, a loss value for losses, a return), kind, and the protocol notes that differ from a dfo-bench
run. kind ``result`` is a number a study reached, shown beside our final metrics; ``target`` is a
threshold a study set (ARS's rewards to reach), added to the problem's fixed-target view, where
our runs' steps to it and success rate are shown. They were not re-run here; the report says so.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from importlib.resources import files

import pandas as pd

COLUMNS = ["source", "url", "problem", "env", "optimizer", "metric", "value", "kind", "protocol"]
METRICS = ("test_accuracy", "val_accuracy", "test_f1", "train_loss")
RESULT, TARGET = "result", "target"


def load_references() -> pd.DataFrame:
    """Every published row shipped with dfo-bench."""
    with files("dfo_bench.report").joinpath("references.csv").open("r", encoding="utf-8") as handle:
        table = pd.read_csv(handle, keep_default_na=False, dtype={"value": float})
    return table[COLUMNS]


def references_for(problem: str, env: str | None = None, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The published rows for a registered problem name (empty when nothing was published on it);
    a row for some environments only where ``env`` (the runs' gymnasium id) matches its pattern."""
    table = load_references() if table is None else table
    applies = table["env"].map(lambda pattern: pattern == "" or (env is not None and fnmatchcase(env, pattern)))
    return table[(table["problem"] == problem) & applies.astype(bool)].reset_index(drop=True)


def reference_rows(matching: pd.DataFrame) -> pd.DataFrame:
    """One row per published (source, optimizer) with a column per metric, for the tables, of
    rows of kind ``result`` (targets go to the fixed-target view)."""
    if matching.empty:
        return pd.DataFrame(columns=["source", "optimizer", "url", "protocol", *METRICS])
    wide = matching.pivot_table(
        index=["source", "optimizer", "url", "protocol"], columns="metric", values="value", aggfunc="first"
    )
    return wide.reindex(columns=list(METRICS)).reset_index()
