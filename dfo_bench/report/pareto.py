"""The multi-objective part of a problem's report: hypervolume over seeds and the attained fronts.

A multi-objective run stores, at each checkpoint, the non-dominated set of every loss vector it
evaluated (``pareto_front``, JSON) and its hypervolume from the problem's reference point
(``hypervolume``, ``dfo_bench.pareto``). From those stored rows alone:

- **hypervolume against evaluations**: median over seeds with the interquartile band, on the same
  step-function grid as the convergence figures (``curves.seed_band``);
- **final hypervolume**: mean with its 95 % percentile-bootstrap interval, median, IQM (≥ 5
  seeds), and the paired two-sided Wilcoxon tests, Holm-corrected, of ``stats.significance``:
  runs of the same seed share the data split and the initial weights, as for one objective;
- **attained fronts**, two objectives: each optimizer's final front of its median-hypervolume
  seed, as the staircase it dominates, with the fronts of all its seeds pooled (non-dominated
  union) in a second figure.

Problems whose runs store no hypervolume (one objective) have no such part.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dfo_bench.pareto import front_from_json, non_dominated
from dfo_bench.report.curves import common_grid, seed_band
from dfo_bench.report.figures import FigureData, Line, Style
from dfo_bench.report.stats import IQM_MIN_SEEDS, Significance, bootstrap_ci, iqm, paired_matrix, significance
from dfo_bench.report.tables import final_rows

HYPERVOLUME = "final_hypervolume"


@dataclass(frozen=True)
class ParetoAnalysis:
    """What the report shows about the fronts of one multi-objective problem."""

    reference_point: list[float] | None
    table: pd.DataFrame
    """optimizer, hv_mean, hv_ci_low, hv_ci_high, hv_median, hv_iqm, front_size, seeds_ok, not_worse."""
    significance: Significance
    figures: list[FigureData]


def _reference_point(runs: pd.DataFrame) -> list[float] | None:
    if "reference_point" not in runs:
        return None
    stored = runs["reference_point"].dropna()
    return [float(v) for v in json.loads(str(stored.iloc[0]))] if len(stored) else None


def hypervolume_table(finals: pd.DataFrame) -> pd.DataFrame:
    """Final hypervolume over the ok seeds of each optimizer, largest mean first."""
    ok = finals[finals["status"] == "ok"]
    rows = []
    for label, part in ok.groupby("optimizer_label", sort=True):
        x = part[HYPERVOLUME].dropna().to_numpy(float)
        low, high = bootstrap_ci(x)
        sizes = [len(front_from_json(text)) for text in part.get("final_pareto_front", pd.Series(dtype=object))]
        rows.append(
            {
                "optimizer": label,
                "hv_mean": float(x.mean()) if x.size else math.nan,
                "hv_ci_low": low,
                "hv_ci_high": high,
                "hv_median": float(np.median(x)) if x.size else math.nan,
                "hv_iqm": float(iqm(x)) if x.size >= IQM_MIN_SEEDS else math.nan,
                "front_size": float(np.mean(sizes)) if sizes else math.nan,
                "seeds_ok": len(part),
            }
        )
    columns = ["optimizer", "hv_mean", "hv_ci_low", "hv_ci_high", "hv_median", "hv_iqm", "front_size", "seeds_ok"]
    return pd.DataFrame(rows, columns=columns).sort_values(["hv_mean", "optimizer"], ascending=[False, True], ignore_index=True)


def hypervolume_figure(
    runs: pd.DataFrame, labels: Sequence[str], styles: Mapping[str, Style], problem: str, stem: str
) -> FigureData:
    """Hypervolume of the attained front against evaluations: median over seeds, IQR band."""
    ok = runs[runs["status"] == "ok"]
    grid = common_grid(ok, "evaluations")
    lines = []
    for label in labels:
        band = seed_band(ok[ok["optimizer_label"] == label], "evaluations", "hypervolume", grid)
        lines.append(Line(label, band.x, band.median, styles[label], band.low, band.high))
    return FigureData(
        stem=f"{stem}-hypervolume-vs-evaluations",
        title="hypervolume of the attained front vs evaluations (median over seeds, band: IQR)",
        x_label="evaluations",
        y_label="hypervolume",
        log_x=False,
        log_y=False,
        lines=tuple(lines),
        context=problem,
    )


def _staircase(front: np.ndarray, label: str, style: Style) -> Line:
    order = np.argsort(front[:, 0], kind="stable")
    return Line(label, front[order, 0], front[order, 1], style)


def front_figures(
    finals: pd.DataFrame, labels: Sequence[str], styles: Mapping[str, Style], problem: str, stem: str
) -> list[FigureData]:
    """Two objectives: the final front of each optimizer's median-hypervolume seed, and the
    non-dominated union of its seeds' final fronts, each as the staircase it dominates."""
    ok = finals[finals["status"] == "ok"].dropna(subset=[HYPERVOLUME])
    median_lines, pooled_lines = [], []
    for label in labels:
        part = ok[ok["optimizer_label"] == label].sort_values([HYPERVOLUME, "seed"], ignore_index=True)
        fronts = [front_from_json(text) for text in part["final_pareto_front"]]
        fronts = [f for f in fronts if f.ndim == 2 and f.shape[1] == 2 and len(f)]
        if not fronts:
            continue
        median_lines.append(_staircase(fronts[(len(fronts) - 1) // 2], label, styles[label]))
        pooled = np.concatenate(fronts)
        pooled_lines.append(_staircase(pooled[non_dominated(pooled)], label, styles[label]))
    if not median_lines:
        return []
    return [
        _front_figure(f"{stem}-front-median-seed", "attained front of the median-hypervolume seed", median_lines, problem),
        _front_figure(f"{stem}-front-all-seeds", "attained front, all seeds pooled (non-dominated union)", pooled_lines, problem),
    ]


def _front_figure(stem: str, title: str, lines: list[Line], problem: str) -> FigureData:
    return FigureData(
        stem=stem,
        title=title + " (each point an evaluated loss vector; the staircase bounds what it dominates)",
        x_label="objective 1 (1 − macro-precision on the precision-recall problems)",
        y_label="objective 2 (1 − macro-recall)",
        log_x=False,
        log_y=False,
        lines=tuple(lines),
        context=problem,
        markers=True,
    )


def analyse_pareto(runs: pd.DataFrame, styles: Mapping[str, Style], problem: str, stem: str) -> ParetoAnalysis | None:
    """The multi-objective part of one problem's report; None when its runs store no hypervolume."""
    if "hypervolume" not in runs or runs["hypervolume"].isna().all():
        return None
    finals = final_rows(runs)
    table = hypervolume_table(finals)
    labels = list(table["optimizer"])
    sig = significance(paired_matrix(finals, HYPERVOLUME, labels), higher_is_better=True)
    marks = [(label in sig.not_worse) if sig.powered else None for label in labels]
    table = table.assign(not_worse=pd.Series(marks, index=table.index, dtype=object))
    figures = [hypervolume_figure(runs, labels, styles, problem, stem)] if labels else []
    figures += front_figures(finals, labels, styles, problem, stem)
    return ParetoAnalysis(_reference_point(runs), table, sig, figures)
