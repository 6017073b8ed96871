"""The report as one self-contained HTML page: every block of the outline (``report.outline``),
with sortable tables, folded detail tables (p-values, ERT per target, run configurations) and
interactive plotly figures (its JavaScript inlined once). Nothing is fetched from a network, so
the page works offline and can be mailed as one file."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

from dfo_bench.report.display import TextTable, sort_value
from dfo_bench.report.figures import FigureData
from dfo_bench.report.interactive import plotly_div, plotly_js
from dfo_bench.report.outline import TITLE, Block, Contents, Facts, Figures, Heading, Image, Items, Note, Table

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


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _table(block: Table) -> str:
    table = html_table(block.table, block.wrap)
    if block.fold:
        table = f"<details><summary>{html.escape(block.title)}</summary>{table}</details>"
    elif block.title:
        table = _note(f"{block.title}:") + table
    return table + (_note(block.note) if block.note else "")


def _figures(block: Figures) -> str:
    images = "".join(
        f'<p><img alt="{html.escape(f.alt)}" src="data:image/png;base64,{base64.b64encode(f.png).decode("ascii")}"></p>'
        for f in block.figures
        if isinstance(f, Image)
    )
    plots = "".join(plotly_div(f) for f in block.figures if isinstance(f, FigureData))
    return images + (f'<div class="plots">{plots}</div>' if plots else "")


def _block(block: Block) -> str:
    e = html.escape
    if isinstance(block, Heading):
        anchor = f' id="{e(block.anchor)}"' if block.anchor else ""
        return f"<h{block.level}{anchor}>{e(block.text)}</h{block.level}>"
    if isinstance(block, Contents):
        links = " · ".join(f'<a href="#{e(anchor)}">{e(text)}</a>' for text, anchor in block.entries)
        return f"<p>{e(block.label)}: {links}</p>"
    if isinstance(block, Facts):
        return "<ul>" + "".join(f"<li><b>{e(key)}:</b> {e(value)}</li>" for key, value in block.items) + "</ul>"
    if isinstance(block, Note):
        return _note(block.text)
    if isinstance(block, Items):
        return '<ul class="note">' + "".join(f"<li>{e(text)}</li>" for text in block.texts) + "</ul>"
    if isinstance(block, Table):
        return _table(block)
    return _figures(block)


def render_html(outline: Sequence[Block]) -> str:
    """The whole page: plotly's JavaScript once in the head, the critical-difference diagram inlined as base64."""
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{TITLE}</title>\n'
        f"<style>{STYLE}</style>\n<script>{plotly_js()}</script>\n</head>\n<body>\n"
        + "\n".join(_block(block) for block in outline)
        + f"\n<script>{SORT_SCRIPT}</script>\n</body>\n</html>\n"
    )
