"""The metrics each problem declares (``Problem.reported_metrics``), as the report uses them: the
final columns of its tables, its primary metric, the traces its curves and fixed-budget view show,
and the metrics targets can be set on.

The report reads stored results alone: each run file holds its problem's declarations (column
``declared_metrics``), so the report loads no problem class (nor torch). Files written before that
column existed ask the registry, imported then; a problem whose class cannot be loaded there either
(a plugin not installed) falls back on the classification metrics its stored columns hold.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dfo_bench.errors import DfoBenchError
from dfo_bench.problems.metrics import CLASSIFICATION, Metric, metrics_from_json

LOSS = Metric("loss", "loss", False, spec=".4g", log=True)
"""Every problem's loss: a final metric on the training and test sets; the test loss is the
primary metric of a problem that declares none (a test function)."""


@dataclass(frozen=True)
class Declared:
    """The metrics of one problem beyond its loss, the first being primary (none: the loss)."""

    metrics: tuple[Metric, ...]

    @property
    def primary(self) -> Metric:
        return self.metrics[0] if self.metrics else LOSS

    def shown(self) -> list[tuple[str, str, Metric]]:
        """(column, header, metric) of the main table's columns after the primary metric: the
        primary metric on validation, then each other metric on its splits, then the training loss."""
        columns = [(f"val_{self.primary.name}", f"val {self.primary.label}", self.primary)] if self.metrics else []
        for metric in self.metrics[1:]:
            columns += [(f"{split}_{metric.name}", f"{split} {metric.label}", metric) for split in metric.splits]
        return [*columns, ("train_loss", "final training loss", LOSS)]

    def finals(self) -> list[str]:
        """The final metrics summarised over seeds: the primary one on test, what ``shown`` lists, and the test loss."""
        return list(dict.fromkeys([f"test_{self.primary.name}", *(column for column, _, _ in self.shown()), "test_loss"]))

    def traced(self) -> list[tuple[str, str, Metric]]:
        """(trace column, label, metric) of the curves and the fixed-budget view: the best-so-far
        training loss, and the primary metric on validation and test."""
        shown = [("best_train_loss", "best-so-far training loss", LOSS)]
        if self.metrics:
            p = self.primary
            shown += [(f"val_{p.name}", f"validation {p.label}", p), (f"test_{p.name}", f"test {p.label}", p)]
        return shown


def declared_metrics(problem: str, runs: pd.DataFrame) -> Declared:
    """What the runs of the problem registered as ``problem`` stored as its declarations; for runs
    written without them, what the registry's class declares; where that cannot be loaded, the
    classification metrics whose test column the runs hold."""
    if "declared_metrics" in runs:
        stored = runs["declared_metrics"].dropna()
        if not stored.empty:
            return Declared(metrics_from_json(str(stored.iloc[-1])))
    from dfo_bench.registry import problems  # imports every problem class, and torch

    try:
        return Declared(problems.get(problem).reported_metrics)
    except DfoBenchError:
        return Declared(tuple(m for m in CLASSIFICATION if f"test_{m.name}" in runs and runs[f"test_{m.name}"].notna().any()))


def known_metrics(runs: pd.DataFrame | None = None) -> dict[str, Metric]:
    """Every metric declared, by name (the first declaration of a name wins): that the problems of
    ``runs`` declare (as ``declared_metrics`` reads them), or without ``runs`` that every registered
    problem declares."""
    if runs is not None:
        declared = [declared_metrics(str(name), part).metrics for name, part in runs.groupby("problem", sort=True)]
    else:
        from dfo_bench.registry import problems  # imports every problem class, and torch

        declared = []
        for name in problems.names():
            try:
                declared.append(problems.get(name).reported_metrics)
            except DfoBenchError:
                continue
    known: dict[str, Metric] = {}
    for metrics in declared:
        for metric in metrics:
            known.setdefault(metric.name, metric)
    return known
