"""``build_report``: tables, convergence figures, Markdown and a self-contained HTML page.

Everything comes from the stored Parquet files alone; nothing is re-run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from dfo_bench.atomic import write_atomically
from dfo_bench.errors import ConfigError
from dfo_bench.hashing import digest
from dfo_bench.report.curves import convergence_curves
from dfo_bench.report.meta import budget_text, describe_runs
from dfo_bench.report.plots import Color, convergence_figure, figure_bytes, optimizer_colors
from dfo_bench.report.render import Section, render_html, render_markdown
from dfo_bench.report.tables import failed_runs, final_rows, summary_table
from dfo_bench.store import ResultStore

__all__ = ["build_report", "load_runs"]

METRIC_COLUMNS = [
    *(f"final_{m}" for m in ("evaluations", "samples", "seconds", "val_accuracy", "test_accuracy", "test_f1")),
    *("evaluations", "samples", "train_loss", "val_accuracy"),
]
"""Columns the report reads; absent when every stored run failed before its first checkpoint."""


def load_runs(results: Path) -> pd.DataFrame:
    """Every stored row of the results folder; ConfigError (one line for the CLI) when there is none."""
    try:
        runs = ResultStore(results).load()
    except FileNotFoundError:
        raise ConfigError(f"{results}: no stored results (runs/*.parquet); run a suite first") from None
    return runs.assign(**{column: float("nan") for column in METRIC_COLUMNS if column not in runs})


def _write(path: Path, data: str | bytes) -> Path:
    """A report file appears whole or not at all."""
    return write_atomically(path, lambda tmp: tmp.write_bytes(data.encode() if isinstance(data, str) else data))


def _stem(problem: str) -> str:
    """A file-name-safe stem; labels that needed changing get a hash so two never share a file."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", problem)
    return "convergence-" + (slug if slug == problem else f"{slug}-{digest(problem, 8)}")


def _section(problem: str, runs: pd.DataFrame, colors: dict[str, Color], out: Path) -> Section:
    """Table, failed runs and figure of one problem; writes the figure's PNG and SVG into ``out``."""
    finals = final_rows(runs)
    table = summary_table(finals)
    plotted = list(table.loc[table["seeds_ok"] > 0, "optimizer"])
    stem, png = None, None
    if plotted:
        stem = _stem(problem)
        fig = convergence_figure(convergence_curves(runs, plotted), colors, problem)
        png = figure_bytes(fig, "png")
        _write(out / f"{stem}.png", png)
        _write(out / f"{stem}.svg", figure_bytes(fig, "svg"))
    return Section(problem, budget_text(runs), table, failed_runs(finals), stem, png)


def build_report(results: Path, out: Path) -> Path:
    """Write report.md, report.html, summary.csv and one PNG + SVG per problem into ``out``.

    ``out`` is created only once results were loaded. report.html is written last, so when it
    exists the rest of the report is complete. Returns the path of report.html.
    """
    runs = load_runs(Path(results))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    colors = optimizer_colors(runs["optimizer_label"])
    sections = [_section(str(problem), group, colors, out) for problem, group in runs.groupby("problem_label")]
    summary = pd.concat([s.table.assign(problem=s.problem) for s in sections], ignore_index=True)
    _write(out / "summary.csv", summary[["problem", *sections[0].table.columns]].to_csv(index=False))
    meta = describe_runs(runs)
    _write(out / "report.md", render_markdown(meta, sections))
    return _write(out / "report.html", render_html(meta, sections))
