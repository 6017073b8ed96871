"""``build_report``: tables with confidence intervals and tests, fixed-target and fixed-budget views,
convergence figures and published numbers, as Markdown (+ PNG/SVG), HTML and LaTeX.

Everything comes from the stored Parquet files alone; nothing is re-run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from dfo_bench.atomic import write_atomically
from dfo_bench.report.analysis import Across, ProblemAnalysis, analyse_across, analyse_problem
from dfo_bench.report.estimates import estimate_table
from dfo_bench.report.figures import FigureData, optimizer_styles
from dfo_bench.report.hpo import analyse_hpo, is_hpo
from dfo_bench.report.html import render_html
from dfo_bench.report.latex import render_latex
from dfo_bench.report.load import LoadedRuns, load_runs
from dfo_bench.report.markdown import render_markdown
from dfo_bench.report.meta import describe_runs
from dfo_bench.report.outline import Image, build_outline, figures
from dfo_bench.report.plots import critical_difference_figure, figure_bytes, static_figure
from dfo_bench.report.tuning import tuning_frame, tuning_table
from dfo_bench.store import ResultStore

__all__ = ["FORMATS", "build_report", "load_runs"]

FORMATS = ("markdown", "html", "latex")
DEFAULT_FORMATS = ("markdown", "html")


def _write(path: Path, data: str | bytes) -> Path:
    """A report file appears whole or not at all."""
    return write_atomically(path, lambda tmp: tmp.write_bytes(data.encode() if isinstance(data, str) else data))


def _write_figure(out: Path, data: FigureData | Image) -> None:
    """The figure's PNG and SVG, beside the Markdown."""
    if isinstance(data, Image):
        png, svg = data.png, data.svg
    else:
        fig = static_figure(data)
        png, svg = figure_bytes(fig, "png"), figure_bytes(fig, "svg")
    _write(out / f"{data.stem}.png", png)
    _write(out / f"{data.stem}.svg", svg)


def _critical_difference(across: Across) -> Image | None:
    """The critical-difference diagram of the Friedman test across problems, if there was one."""
    test = across.friedman
    if test is None:
        return None
    fig = critical_difference_figure(test.mean_ranks, test.critical_difference, f"Mean ranks over {test.problems} problems")
    return Image("critical-difference", "Critical-difference diagram", figure_bytes(fig, "png"), figure_bytes(fig, "svg"))


def _chosen_columns(chosen: pd.DataFrame) -> list[str]:
    return [c for c in chosen.columns if c not in ("problem", "metric")]


def _summary_csv(analyses: Sequence[ProblemAnalysis]) -> str:
    table = pd.concat([a.table.assign(problem=a.problem, primary_metric=a.metric.name) for a in analyses], ignore_index=True)
    first = ["problem", "optimizer", "primary_metric"]
    return table[first + [c for c in table.columns if c not in first]].to_csv(index=False)


def _fixed_target_csv(analyses: Sequence[ProblemAnalysis]) -> str:
    frames = [a.fixed_target.assign(problem=a.problem) for a in analyses]
    table = pd.concat(frames, ignore_index=True)
    return table[["problem", *[c for c in table.columns if c != "problem"]]].to_csv(index=False)


def build_report(
    results: Path | Sequence[Path],
    out: Path,
    formats: Sequence[str] = DEFAULT_FORMATS,
    problems: Sequence[str] = (),
    optimizers: Sequence[str] = (),
    targets: Mapping[str, Sequence[float]] | None = None,
    loaded: LoadedRuns | None = None,
) -> Path:
    """Write the report of one or more results folders into ``out`` and return its main file.

    Always: summary.csv and fixed_target.csv (unrounded numbers), start_vs_final.csv for runs from
    pre-trained weights, and tuning.csv when the runs were tuned (a suite with ``tuning:``; tuning
    runs are in no other table). ``markdown``: report.md with one
    PNG + SVG per figure; ``html``: report.html (self-contained); ``latex``: report.tex (booktabs).
    ``out`` is created only once results were loaded. The main file (report.html, else report.md,
    else report.tex) is written last, so when it exists the rest of the report is complete.
    """
    loaded = loaded or load_runs(results, problems, optimizers)
    runs = loaded.runs
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    styles = optimizer_styles(runs["optimizer_label"])
    analyses = [analyse_problem(str(p), group, styles, targets or {}) for p, group in runs.groupby("problem_label")]
    hpo = {str(p): analyse_hpo(str(p), group, styles) for p, group in runs.groupby("problem_label") if is_hpo(group)}
    across = analyse_across(analyses, runs, styles)
    meta = describe_runs(runs)
    if not loaded.tuning.empty:
        ids = loaded.tuning.drop_duplicates("run_id")
        meta["Tuning runs"] = f"{len(ids)} (in the Tuning table and tuning.csv only)"
    if loaded.notes:
        meta["Notes"] = "; ".join(loaded.notes)
    _write(out / "summary.csv", _summary_csv(analyses))
    _write(out / "fixed_target.csv", _fixed_target_csv(analyses))
    starts = [a.start.table.assign(problem=a.problem) for a in analyses if a.start is not None]
    if starts:  # unrounded: start against final per problem, metric and optimizer
        table = pd.concat(starts, ignore_index=True)
        _write(out / "start_vs_final.csv", table[["problem", *[c for c in table.columns if c != "problem"]]].to_csv(index=False))
    tuning = tuning_frame(loaded.studies, loaded.tuning) if loaded.studies else None
    if tuning is not None:
        _write(out / "tuning.csv", tuning.to_csv(index=False))
    tuned = tuning_table(tuning) if tuning is not None else None
    if hpo:  # unrounded: per problem and optimizer, the final validation loss and the best seed's configuration
        chosen = pd.concat([h.chosen.assign(problem=p, metric=h.metric) for p, h in hpo.items()], ignore_index=True)
        _write(out / "hpo_configurations.csv", chosen[["problem", "metric", *_chosen_columns(chosen)]].to_csv(index=False))
    folders = [Path(results)] if isinstance(results, (str, Path)) else [Path(f) for f in results]
    timing = estimate_table([plan for folder in folders for plan in ResultStore(folder).plans()], runs)
    outline = build_outline(meta, analyses, across, _critical_difference(across), tuned, hpo, timing)
    written: dict[str, Path] = {}
    if "latex" in formats:
        written["latex"] = _write(out / "report.tex", render_latex(outline))
    if "markdown" in formats:
        for data in figures(outline):
            _write_figure(out, data)
        written["markdown"] = _write(out / "report.md", render_markdown(outline))
    if "html" in formats:
        written["html"] = _write(out / "report.html", render_html(outline))
    return written.get("html") or written.get("markdown") or written["latex"]
