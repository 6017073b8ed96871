"""The report as one self-contained HTML page: sortable tables, interactive plotly figures (its
JavaScript inlined once), run configurations, environment and failed runs. Nothing is fetched
from a network, so the page works offline and can be mailed as one file."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence

from dfo_bench.report.analysis import Across, ProblemAnalysis
from dfo_bench.report.display import (
    TextTable,
    across_table,
    budget_fractions_text,
    configuration_table,
    failed_table,
    fixed_budget_table,
    fixed_target_table,
    hypervolume_note,
    hypervolume_p_table,
    hypervolume_table,
    main_table,
    main_table_note,
    p_value_table,
    sort_value,
    start_table,
)
from dfo_bench.report.hpo import HPOAnalysis, chosen_table, top_table
from dfo_bench.report.interactive import plotly_div, plotly_js
from dfo_bench.report.tuning import tuning_note

TITLE = "dfo-bench report"
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1500px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { padding: 0.25em 0.6em; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th { cursor: pointer; background: #f4f4f4; position: sticky; top: 0; }
th[data-order=asc]::after { content: " ▲"; } th[data-order=desc]::after { content: " ▼"; }
td:nth-child(-n+2), th:nth-child(-n+2) { text-align: left; }
tr.best td { font-weight: bold; }
tbody.published td { font-style: italic; color: #555; background: #fafaf0; }
td.wrap { white-space: normal; text-align: left; font-family: monospace; font-size: 0.9em; max-width: 40em; }
.scroll { overflow-x: auto; max-width: 100%; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(620px, 1fr)); gap: 0.5em; }
.note { color: #444; font-size: 0.9em; max-width: 70em; }
img { max-width: 100%; }
details { margin: 0.6em 0; } summary { cursor: pointer; font-weight: 600; }
"""
SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("thead th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var ascending = th.dataset.order !== "asc";
      table.querySelectorAll("thead th").forEach(function (other) { delete other.dataset.order; });
      th.dataset.order = ascending ? "asc" : "desc";
      var body = table.tBodies[0];
      var key = function (row) {
        var cell = row.cells[column];
        var value = cell.dataset.sort;
        if (value === "") return null;
        var number = Number(value);
        return isNaN(number) ? value : number;
      };
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null || y === null) return (x === null) - (y === null);
        var order = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def html_table(table: TextTable, wrap: Sequence[int] = ()) -> str:
    """A sortable table (click a header): ours in the first body, published rows in a second body."""
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in table.columns)

    def row(cells: list, css: str = "") -> str:
        tds = "".join(
            f'<td{" class=wrap" if i in wrap else ""} data-sort="{e(sort_value(c))}">{e(c.text)}</td>'
            for i, c in enumerate(cells)
        )
        return f"<tr{css}>{tds}</tr>"

    ours = "".join(row(r, ' class="best"' if i < len(table.bold) and table.bold[i] else "") for i, r in enumerate(table.rows))
    published = "".join(row(r) for r in table.references)
    extra = f'<tbody class="published">{published}</tbody>' if published else ""
    return f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead><tbody>{ours}</tbody>{extra}</table></div>'


def _p(text: str, css: str = "note") -> str:
    return f'<p class="{css}">{html.escape(text)}</p>'


def _problem(analysis: ProblemAnalysis, index: int) -> list[str]:
    e = html.escape
    parts = [f'<h2 id="problem-{index}">{e(analysis.problem)}</h2>', f"<p>Budget per run: {e(analysis.budget)}.</p>"]
    parts += ["<h3>Final metrics</h3>", html_table(main_table(analysis)), _p(main_table_note(analysis))]
    if analysis.reference_protocols:
        items = "".join(f"<li>{e(text)}</li>" for text in analysis.reference_protocols)
        parts.append(
            '<p class="note">Published rows (italic) were not re-run here; their protocol differs from ours:</p>'
            f'<ul class="note">{items}</ul>'
        )
    pairs = p_value_table(analysis)
    if len(pairs.rows) > 1:
        caption = "Pairwise two-sided Wilcoxon signed-rank p-values on paired seeds, Holm-adjusted over all pairs"
        if not analysis.significance.powered:
            caption += " (too few seeds: none can be below α; shown for completeness)"
        parts.append(f"<details><summary>{e(caption)}</summary>{html_table(pairs)}</details>")
    if analysis.start is not None:
        parts += ["<h3>Improvement over the start</h3>", html_table(start_table(analysis)), _p(analysis.start.note)]
    parts += [
        "<h3>Fixed target</h3>",
        _p(
            analysis.targets_note + " ERT: COCO's expected running time (unsuccessful runs "
            "count with their whole usage); ∞: no run reached the target. Runtimes are known to within one checkpoint."
        ),
    ]
    if analysis.ecdfs:
        parts.append('<div class="plots">' + "".join(plotly_div(f) for f in analysis.ecdfs) + "</div>")
    parts.append(
        "<details><summary>Expected running time and success rate per target</summary>"
        f"{html_table(fixed_target_table(analysis))}</details>"
    )
    parts += [
        "<h3>Fixed budget</h3>",
        _p(f"Median over seeds at {budget_fractions_text()} of each run's budget."),
        html_table(fixed_budget_table(analysis)),
    ]
    parts.append("<h3>Convergence</h3>")
    if analysis.convergence:
        parts.append('<div class="plots">' + "".join(plotly_div(f) for f in analysis.convergence) + "</div>")
    else:
        parts.append("<p>No successful run to plot.</p>")
    if analysis.pareto is not None:
        parts += ["<h3>Pareto fronts and hypervolume</h3>", html_table(hypervolume_table(analysis))]
        parts.append(_p(hypervolume_note(analysis)))
        if len(analysis.pareto.table) > 1:
            caption = "Pairwise two-sided Wilcoxon signed-rank p-values of the final hypervolume, Holm-adjusted"
            parts.append(f"<details><summary>{e(caption)}</summary>{html_table(hypervolume_p_table(analysis))}</details>")
        parts.append('<div class="plots">' + "".join(plotly_div(f) for f in analysis.pareto.figures) + "</div>")
    parts.append(
        f"<details><summary>Run configurations</summary>{html_table(configuration_table(analysis), wrap=(2, 3, 6, 7))}</details>"
    )
    if not analysis.failed.empty:
        parts += ["<h3>Failed runs</h3>", html_table(failed_table(analysis), wrap=(3,))]
    return parts


def _hpo(analysis: HPOAnalysis) -> list[str]:
    parts = [
        "<h3>Hyper-parameters</h3>",
        _p(
            f"Final {analysis.metric} per optimizer and the configuration of its best seed"
            + (" (published rows in italics, not re-run)." if not analysis.published.empty else ".")
        ),
    ]
    parts += [
        html_table(chosen_table(analysis), wrap=(5,)),
        _p(f"Top {len(analysis.top)} configurations (recommended at a checkpoint of any run):"),
    ]
    parts.append(html_table(top_table(analysis), wrap=(4,)))
    if analysis.figures:
        parts.append('<div class="plots">' + "".join(plotly_div(f) for f in analysis.figures) + "</div>")
    return parts


def render_html(
    meta: dict[str, str],
    analyses: Sequence[ProblemAnalysis],
    across: Across,
    cd_png: bytes | None,
    tuning: TextTable | None = None,
    hpo: Mapping[str, HPOAnalysis] | None = None,
) -> str:
    """The whole page; ``cd_png`` is the critical-difference diagram, inlined as base64;
    ``tuning``: what each optimizer's tuning chose and cost (suites with ``tuning:``);
    ``hpo``: the hyper-parameter view of the problems that searched configurations, by problem label."""
    e = html.escape
    items = "".join(f"<li><b>{e(key)}:</b> {e(value)}</li>" for key, value in meta.items())
    nav = " · ".join(f'<a href="#problem-{i}">{e(a.problem)}</a>' for i, a in enumerate(analyses))
    body = [f"<h1>{TITLE}</h1>", f"<p>Problems: {nav}</p>", f"<h2>Environment</h2><ul>{items}</ul>"]
    body += ["<h2>Across problems</h2>", _p(across.note), html_table(across_table(across))]
    if cd_png:
        data = base64.b64encode(cd_png).decode("ascii")
        body.append(f'<p><img alt="Critical-difference diagram" src="data:image/png;base64,{data}"></p>')
    if across.profile:
        body.append('<div class="plots">' + plotly_div(across.profile) + "</div>")
    if tuning is not None:
        body += ['<h2 id="tuning">Tuning</h2>', _p(tuning_note()), html_table(tuning, wrap=(2, 8))]
    for i, analysis in enumerate(analyses):
        body += _problem(analysis, i)
        if hpo and analysis.problem in hpo:
            body += _hpo(hpo[analysis.problem])
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{TITLE}</title>\n'
        f"<style>{STYLE}</style>\n<script>{plotly_js()}</script>\n</head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{SORT_SCRIPT}</script>\n</body>\n</html>\n"
    )
