"""The report as Markdown, next to its PNG/SVG files: the version for papers and for reading in a repo."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dfo_bench.report.analysis import Across, ProblemAnalysis
from dfo_bench.report.display import (
    TextTable,
    across_table,
    budget_fractions_text,
    failed_table,
    fixed_budget_table,
    fixed_target_wide,
    hypervolume_note,
    hypervolume_p_table,
    hypervolume_table,
    main_table,
    main_table_note,
    p_value_table,
    start_table,
)
from dfo_bench.report.hpo import HPOAnalysis, chosen_table, top_table
from dfo_bench.report.targets import TARGET_METRICS
from dfo_bench.report.tuning import tuning_note

TITLE = "dfo-bench report"
TEXT_COLUMNS = {
    *("", "optimizer", "metric", "run", "error", "problem"),
    *("tuned configuration", "search space", "configuration", "its configuration"),
}
"""Left-aligned; numbers are right-aligned."""


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*")


def markdown_table(table: TextTable) -> list[str]:
    """A pipe table; optimizers not significantly worse than the best in bold, published rows in italics."""
    lines = ["| " + " | ".join(_escape(c) for c in table.columns) + " |"]
    lines.append("|" + "|".join(":---" if c in TEXT_COLUMNS else "---:" for c in table.columns) + "|")
    for i, row in enumerate(table.rows):
        cells = [_escape(c.text) for c in row]
        if i < len(table.bold) and table.bold[i]:
            cells = [f"**{c}**" if c else c for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    for row in table.references:
        lines.append("| " + " | ".join(f"_{_escape(c.text)}_" if c.text else "" for c in row) + " |")
    return lines


def _figures(stems: Sequence[str], what: str) -> list[str]:
    return [f"- ![{what}]({stem}.png) ([SVG]({stem}.svg))" for stem in stems]


def _problem(analysis: ProblemAnalysis) -> list[str]:
    lines = ["", f"## {analysis.problem}", "", f"Budget per run: {analysis.budget}.", ""]
    lines += [*markdown_table(main_table(analysis)), "", main_table_note(analysis)]
    if analysis.reference_protocols:
        lines += ["", "Published rows were not re-run here; their protocol differs from ours:"]
        lines += [f"- {text}" for text in analysis.reference_protocols]
    if analysis.significance.powered:
        lines += ["", "Pairwise two-sided Wilcoxon signed-rank p-values, Holm-adjusted over all pairs:", ""]
        lines += markdown_table(p_value_table(analysis))
    if analysis.start is not None:
        lines += ["", "### Improvement over the start", "", analysis.start.note, "", *markdown_table(start_table(analysis))]
    lines += [
        "",
        "### Fixed target",
        "",
        analysis.targets_note + " Cells: expected running time (COCO's ERT) in "
        "forward-equivalent samples (successful runs / runs); ∞: no run reached it. ERT in evaluations and seconds: "
        "report.html and fixed_target.csv.",
    ]
    for name in analysis.targets:
        lines += ["", f"{TARGET_METRICS[name].label}:", "", *markdown_table(fixed_target_wide(analysis, name))]
    if analysis.ecdfs:
        lines += ["", *_figures([f.stem for f in analysis.ecdfs], "Runtime ECDF")]
    lines += ["", "### Fixed budget", "", f"Median over seeds at {budget_fractions_text()} of each run's budget.", ""]
    lines += markdown_table(fixed_budget_table(analysis))
    lines += ["", "### Convergence", ""]
    lines += _figures([f.stem for f in analysis.convergence], "Convergence") or ["No successful run to plot."]
    if analysis.pareto is not None:
        lines += ["", "### Pareto fronts and hypervolume", "", *markdown_table(hypervolume_table(analysis))]
        lines += ["", hypervolume_note(analysis)]
        if analysis.pareto.significance.powered:
            lines += ["", "Pairwise p-values of the final hypervolume (Wilcoxon, Holm-adjusted):", ""]
            lines += markdown_table(hypervolume_p_table(analysis))
        lines += ["", *_figures([f.stem for f in analysis.pareto.figures], "Hypervolume and fronts")]
    if not analysis.failed.empty:
        lines += ["", "### Failed runs", ""]
        lines += [f"- {r[0].text} ({r[1].text}, seed {r[2].text}): {r[3].text}" for r in failed_table(analysis).rows]
    return lines


def _hpo(analysis: HPOAnalysis) -> list[str]:
    lines = ["", "### Hyper-parameters", "", f"Final {analysis.metric} per optimizer and the configuration of its best seed:", ""]
    lines += markdown_table(chosen_table(analysis))
    if not analysis.published.empty:
        lines += ["", "Published rows (italic) were not re-run here; their protocol differs from ours."]
    lines += ["", f"Top {len(analysis.top)} configurations (recommended at a checkpoint of any run):", ""]
    lines += [*markdown_table(top_table(analysis)), ""]
    return lines + _figures([f.stem for f in analysis.figures], "Best validation value")


def render_markdown(
    meta: dict[str, str],
    analyses: Sequence[ProblemAnalysis],
    across: Across,
    extra_stems: Sequence[str],
    tuning: TextTable | None = None,
    hpo: Mapping[str, HPOAnalysis] | None = None,
) -> str:
    """The whole report; ``extra_stems`` are the across-problem figures written next to it;
    ``tuning``: what each optimizer's tuning chose and cost (suites with ``tuning:``);
    ``hpo``: the hyper-parameter view of the problems that searched configurations, by problem label."""
    lines = [f"# {TITLE}", "", *(f"- **{key}:** {value}" for key, value in meta.items())]
    lines += ["", "## Across problems", "", across.note, "", *markdown_table(across_table(across))]
    lines += ["", *_figures(extra_stems, "Across problems")]
    if tuning is not None:
        lines += ["", "## Tuning", "", tuning_note(), "", *markdown_table(tuning)]
    for analysis in analyses:
        lines += _problem(analysis)
        if hpo and analysis.problem in hpo:
            lines += _hpo(hpo[analysis.problem])
    return "\n".join(lines) + "\n"
