"""The report's tables as text for people: one ``TextTable`` per table, rendered by Markdown, HTML
and LaTeX alike. Each cell keeps a number to sort by, so HTML tables sort numerically."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dfo_bench.report.analysis import Across, ProblemAnalysis
from dfo_bench.report.speed import NORMALISED_LABEL
from dfo_bench.report.stats import IQM_MIN_SEEDS
from dfo_bench.report.targets import BUDGET_FRACTIONS, RUNTIME_AXES

DASH = "—"
TEXT_COLUMNS = {
    *("", "optimizer", "metric", "run", "error", "problem"),
    *("tuned configuration", "search space", "configuration", "its configuration"),
}
"""Columns of text, left-aligned in Markdown and LaTeX; the others hold numbers, right-aligned."""


@dataclass(frozen=True)
class Cell:
    text: str
    sort: float | str | None = None
    """Sort key (None: the text); NaN sorts last."""


@dataclass(frozen=True)
class TextTable:
    columns: list[str]
    rows: list[list[Cell]]
    references: list[list[Cell]] = field(default_factory=list)
    """Published rows, shown after ours and never sorted in with them."""
    bold: list[bool] = field(default_factory=list)
    """Per row of ours: not significantly worse than the best (COCO's bold)."""


def fmt(value: float, spec: str) -> str:
    return DASH if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def _number(value: float, spec: str) -> Cell:
    return Cell(fmt(value, spec), value)


def _ci(row: pd.Series, name: str, spec: str = ".4f") -> Cell:
    """'mean [low, high]': the mean over seeds and its 95 % bootstrap interval (none below 2 seeds)."""
    mean, low, high = row[f"{name}_mean"], row[f"{name}_ci_low"], row[f"{name}_ci_high"]
    text = fmt(mean, spec)
    if not math.isnan(low):
        text += f" [{low:{spec}}, {high:{spec}}]"
    return Cell(text, mean)


def _drop_empty(table: TextTable) -> TextTable:
    """Columns that are empty in every row of ours and every reference row are left out."""
    keep = [
        i for i in range(len(table.columns)) if any(r[i].text not in (DASH, "") for r in table.rows + table.references) or i < 2
    ]
    return TextTable(
        [table.columns[i] for i in keep],
        [[r[i] for i in keep] for r in table.rows],
        [[r[i] for i in keep] for r in table.references],
        table.bold,
    )


MAIN_COLUMNS = [
    "",
    "optimizer",
    "rank",
    "{metric} mean [95% CI]",
    "{metric} median",
    "{metric} IQM",
    "{shown}",
    "evaluations",
    "{samples}",
    "episodes",
    "seconds",
    NORMALISED_LABEL,
    "setup seconds",
    "coordinates",
    "pre-training samples",
    "seeds ok / failed",
]


def main_table(analysis: ProblemAnalysis) -> TextTable:
    """Final metrics with intervals, resources, and the significance mark; published rows after ours."""
    name = analysis.metric.name
    spec = analysis.metric.spec
    shown = analysis.declared.shown()  # the other final metrics: (column, header, metric)
    rows, bold = [], []
    for _, row in analysis.table.iterrows():
        mark = "*" if row["not_worse"] is not None and row["not_worse"] == True else ""  # noqa: E712 (numpy bools too)
        rows.append(
            [
                Cell(mark),
                Cell(str(row["optimizer"])),
                _number(row["rank"], ".2f"),
                _ci(row, name, spec),
                _number(row[f"{name}_median"], spec),
                _number(row[f"{name}_iqm"], spec),
                *(_ci(row, column, metric.spec) for column, _, metric in shown),
                _number(row["evaluations"], ",.0f"),
                _number(row["samples"], ",.0f"),
                _number(row["episodes"], ",.0f"),
                _number(row["seconds"], ".1f"),
                _number(row["seconds_normalised"] if not analysis.speed.comparable else math.nan, ".1f"),
                _number(row["setup_seconds"], ".1f"),
                _number(row["coordinates"], ",.0f"),
                _number(row["pretrain_samples"], ",.0f"),
                Cell(f"{int(row['seeds_ok'])} / {int(row['seeds_failed'])}", int(row["seeds_ok"])),
            ]
        )
        bold.append(mark == "*")
    references = []
    for _, ref in analysis.references.iterrows():
        value = ref.get(name, math.nan)
        references.append(
            [
                Cell("published"),
                Cell(f"{ref['optimizer']} ({ref['source']})"),
                Cell(DASH),
                Cell(fmt(value, ".4f"), value),
                *[Cell(DASH)] * 2,
                *(Cell(fmt(ref.get(column, math.nan), metric.spec)) for column, _, metric in shown),
                *[Cell(DASH)] * 8,
                Cell("not re-run"),
            ]
        )
    columns = []
    for c in MAIN_COLUMNS:
        columns += (
            [f"{header} mean [95% CI]" for _, header, _ in shown]
            if c == "{shown}"
            else [c.format(metric=analysis.metric.label, samples=analysis.samples_header)]
        )
    return _drop_empty(TextTable(columns, rows, references, bold))


def main_table_note(analysis: ProblemAnalysis) -> str:
    """How to read the main table (budget, units, intervals, what the mark means)."""
    return (
        f"Budget per run: {analysis.budget}. "
        "Final values of the recommended point over the ok seeds: mean with its 95 % percentile-bootstrap interval, "
        f"median, and interquartile mean (IQM, with ≥ {IQM_MIN_SEEDS} seeds). Accuracies and macro-F1 are fractions. "
        f"Rank: mean over seeds of the rank by final {analysis.metric.label} within the seed (1 = best). Evaluations, "
        "forward-equivalent samples (a control problem's environment steps, and its episodes) and seconds: mean used "
        "per run (seconds of the run's clock: the search alone, "
        "checkpoints paused); setup seconds: before the clock started (data, pre-training, compiling kernels), outside "
        "the budget; coordinates: size of the space searched; pre-training samples: cost of the shared pre-trained start, "
        "outside the budget. Failed runs are listed, not averaged. " + analysis.significance.note + " " + analysis.speed.note
    )


def p_value_table(analysis: ProblemAnalysis) -> TextTable:
    """Holm-adjusted pairwise p-values (all pairs), rows and columns in table order."""
    matrix = analysis.significance.p_matrix
    labels = [str(label) for label in analysis.table["optimizer"] if label in matrix.index]
    values = matrix.astype(float)
    rows = [
        [Cell(a), *(Cell(DASH if a == b else fmt(float(values.at[a, b]), ".3g"), float(values.at[a, b])) for b in labels)]
        for a in labels
    ]
    return TextTable(["optimizer", *labels], rows)


NOT_RECORDED = "not recorded"
COST_COLUMNS = [
    "optimizer",
    "seeds",
    "evaluations/s",
    "peak RSS (MiB)",
    "RSS increase (MiB)",
    "peak CUDA (MiB)",
    "memory recorded (seeds)",
]


def cost_text_table(analysis: ProblemAnalysis) -> TextTable:
    """Evaluations per second and peak memory per optimizer (``cost.cost_table``); memory of runs
    stored before it was measured shows "not recorded", the CUDA column only where a run used a GPU."""
    rows = []
    for r in analysis.cost.to_dict("records"):
        rss = [_recorded(r[c]) for c in ("peak_rss_mib", "rss_increase_mib")]
        rows.append(
            [
                Cell(str(r["optimizer"])),
                Cell(str(r["seeds"]), r["seeds"]),
                _number(r["evaluations_per_second"], ",.1f" if r["evaluations_per_second"] < 100 else ",.0f"),
                *rss,
                _number(r["peak_cuda_mib"], ",.0f"),
                Cell(f"{r['memory_seeds']} / {r['seeds']}", r["memory_seeds"]),
            ]
        )
    return _drop_empty(TextTable(COST_COLUMNS, rows))


def _recorded(mib: float) -> Cell:
    return Cell(NOT_RECORDED, mib) if math.isnan(mib) else _number(mib, ",.0f")


def start_table(analysis: ProblemAnalysis) -> TextTable:
    """Start against final per metric and optimizer; significant improvements marked and bold."""
    assert analysis.start is not None
    rows, bold = [], []
    for r in analysis.start.table.to_dict("records"):
        change = fmt(r["change"], "+.4f")
        if not math.isnan(r["change_ci_low"]):
            change += f" [{r['change_ci_low']:+.4f}, {r['change_ci_high']:+.4f}]"
        rows.append(
            [
                Cell("*" if r["significant"] else ""),
                Cell(str(r["metric"])),
                Cell(str(r["optimizer"])),
                _number(r["start"], ".4f"),
                _number(r["final"], ".4f"),
                Cell(change, r["change"]),
                Cell(f"{r['improved']} / {r['seeds']}", r["improved"]),
                _number(r["p"], ".3g"),
                _number(r["p_holm"], ".3g"),
            ]
        )
        bold.append(bool(r["significant"]))
    columns = ["", "metric", "optimizer", "start", "final", "change [95% CI]", "seeds improved", "p (one-sided)", "p Holm"]
    return TextTable(columns, rows, bold=bold)


def _ert(value: float) -> str:
    """Runtimes as people read them: 12,340 rather than 1.234e+04; ∞ when no run reached the target."""
    if math.isinf(value):
        return "∞"
    return fmt(value, ",.0f") if value >= 1000 else fmt(value, ".3g")


def fixed_target_table(analysis: ProblemAnalysis) -> TextTable:
    """Long form: one row per (optimizer, metric, target), ERT on every runtime axis and success
    rate; where the runs' seconds are not comparable, also the ERT in seconds rescaled by the probe."""
    axes = [*RUNTIME_AXES, *(["seconds_normalised"] if not analysis.speed.comparable and analysis.speed.recorded else [])]
    rows = []
    for _, r in analysis.fixed_target.iterrows():
        metric = analysis.target_metrics[str(r["metric"])]
        rows.append(
            [
                Cell(str(r["optimizer"])),
                Cell(metric.label),
                Cell(fmt(r["target"], ".4g"), r["target"]),
                Cell(f"{r['successes']}/{r['runs']}", r["success_rate"]),
                *(Cell(_ert(r[f"ert_{axis}"]), r[f"ert_{axis}"]) for axis in axes),
            ]
        )
    headers = ["optimizer", "metric", "target", "success", "ERT evaluations", "ERT samples", "ERT seconds"]
    return TextTable(headers + [f"ERT {NORMALISED_LABEL}"] * (len(axes) - len(RUNTIME_AXES)), rows)


def fixed_target_wide(analysis: ProblemAnalysis, name: str) -> TextTable:
    """For papers: optimizers by targets of one metric, each cell 'ERT samples (successes/runs)'."""
    part = analysis.fixed_target[analysis.fixed_target["metric"] == name]
    targets = analysis.targets.get(name, [])
    rows = []
    for label, group in part.groupby("optimizer", sort=False):
        by_target = {round(float(r["target"]), 12): r for r in group.to_dict("records")}
        cells = [Cell(str(label))]
        for target in targets:
            r = by_target.get(round(float(target), 12))
            cells.append(
                Cell(DASH) if r is None else Cell(f"{_ert(r['ert_samples'])} ({r['successes']}/{r['runs']})", r["ert_samples"])
            )
        rows.append(cells)
    sign = "≥" if analysis.target_metrics[name].higher_is_better else "≤"
    return TextTable(["optimizer", *(f"{sign} {t:.4g}" for t in targets)], rows)


def budget_labels(analysis: ProblemAnalysis) -> dict[str, tuple[str, str]]:
    """(short header, number format) per trace column of the fixed-budget view ("val acc.")."""
    labels = {"best_train_loss": ("train loss", ".4g")}
    for column, _, metric in analysis.declared.traced()[1:]:
        split = column.split("_", 1)[0]
        labels[column] = (f"{split} {metric.short or metric.label}", metric.spec)
    return labels


def fixed_budget_table(analysis: ProblemAnalysis) -> TextTable:
    """Median over seeds of each metric at 10 %, 50 %, 100 % of the budget."""
    table = analysis.fixed_budget
    columns = [c for c in table.columns if c != "optimizer"]
    labels = budget_labels(analysis)
    rows = [
        [Cell(str(r["optimizer"])), *(_number(r[c], labels[c.split("@")[0]][1]) for c in columns)] for _, r in table.iterrows()
    ]
    header = []
    for c in columns:
        metric, fraction = c.split("@")
        header.append(f"{labels[metric][0]} @ {fraction}")
    return TextTable(["optimizer", *header], rows)


def configuration_table(analysis: ProblemAnalysis) -> TextTable:
    frame = analysis.configurations
    return TextTable(list(frame.columns), [[Cell(str(v)) for v in row] for row in frame.to_numpy().tolist()])


def failed_table(analysis: ProblemAnalysis) -> TextTable:
    rows = [
        [Cell(str(r["run_id"])), Cell(str(r["optimizer_label"])), Cell(str(r["seed"]), int(r["seed"])), Cell(str(r["error"]))]
        for r in analysis.failed.to_dict("records")
    ]
    return TextTable(["run", "optimizer", "seed", "error"], rows)


def across_table(across: Across) -> TextTable:
    rows = [
        [
            Cell(str(r["optimizer"])),
            _number(r["mean_rank"], ".2f"),
            Cell(
                f"{fmt(r['mean'], '.4f')}" + ("" if math.isnan(r["ci_low"]) else f" [{r['ci_low']:.4f}, {r['ci_high']:.4f}]"),
                r["mean"],
            ),
            Cell(str(r["problems"]), r["problems"]),
        ]
        for _, r in across.aggregate.iterrows()
    ]
    return TextTable(["optimizer", "mean rank over problems", "mean of per-problem means [95% stratified CI]", "problems"], rows)


def budget_fractions_text() -> str:
    return ", ".join(f"{f:.0%}" for f in BUDGET_FRACTIONS)


def sort_value(cell: Cell) -> str:
    """The data-sort attribute of an HTML cell: numbers as repr (NaN: empty, sorted last), else text."""
    value = cell.text if cell.sort is None else cell.sort
    if isinstance(value, (float, int, np.floating, np.integer)):
        number = float(value)
        return "" if math.isnan(number) else repr(number)
    return str(value)


def hypervolume_table(analysis: ProblemAnalysis) -> TextTable:
    """Final hypervolume per optimizer; bold: not significantly worse than the largest (when powered)."""
    assert analysis.pareto is not None
    table = analysis.pareto.table
    rows, bold = [], []
    for _, row in table.iterrows():
        mark = row["not_worse"]
        rows.append(
            [
                Cell("*" if mark is True else ""),
                Cell(str(row["optimizer"])),
                _ci(row, "hv", ".4g"),
                _number(row["hv_median"], ".4g"),
                _number(row["hv_iqm"], ".4g"),
                _number(row["front_size"], ".1f"),
                _number(row["seeds_ok"], "d"),
            ]
        )
        bold.append(mark is True)
    columns = ["", "optimizer", "final hypervolume mean [95% CI]", "median", "IQM", "front size", "seeds ok"]
    return TextTable(columns, rows, bold=bold)


def hypervolume_note(analysis: ProblemAnalysis) -> str:
    """What the hypervolume table shows, and the outcome of its tests."""
    assert analysis.pareto is not None
    point = analysis.pareto.reference_point
    where = f"from the reference point ({', '.join(f'{v:g}' for v in point)})" if point else "from the problem's reference point"
    return (
        f"Hypervolume {where} of the non-dominated set of every loss vector a run evaluated (on its evaluation "
        "batches), larger is better; mean over the ok seeds with its 95 % percentile-bootstrap interval. "
        + analysis.pareto.significance.note
    )


def hypervolume_p_table(analysis: ProblemAnalysis) -> TextTable:
    """Holm-adjusted pairwise p-values of the final hypervolume, rows and columns in table order."""
    assert analysis.pareto is not None
    matrix = analysis.pareto.significance.p_matrix.astype(float)
    labels = [str(label) for label in analysis.pareto.table["optimizer"] if label in matrix.index]
    rows = [
        [Cell(a), *(Cell(DASH if a == b else fmt(float(matrix.at[a, b]), ".3g"), float(matrix.at[a, b])) for b in labels)]
        for a in labels
    ]
    return TextTable(["optimizer", *labels], rows)
