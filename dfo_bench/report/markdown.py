"""The report as Markdown, next to its PNG/SVG files: the version for papers and for reading in a repo.

Renders the outline (``report.outline``) but the tables that are for the HTML page only; contents
need anchors Markdown does not have, so there are none."""

from __future__ import annotations

from collections.abc import Sequence

from dfo_bench.report.display import TEXT_COLUMNS, TextTable
from dfo_bench.report.outline import Block, Contents, Facts, Figures, Heading, Items, Note, Table


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


def _block(block: Block) -> list[str]:
    """The lines of one block, each block after a blank line."""
    if isinstance(block, Heading):
        return ["", "#" * block.level + " " + block.text]
    if isinstance(block, Facts):
        return ["", *(f"- **{key}:** {value}" for key, value in block.items)]
    if isinstance(block, Note):
        return ["", block.text]
    if isinstance(block, Items):
        return ["", *(f"- {text}" for text in block.texts)]
    if isinstance(block, Table):
        if not block.paper:
            return []
        title = ["", f"{block.title}:"] if block.title else []
        return [*title, "", *markdown_table(block.table), *(["", block.note] if block.note else [])]
    if isinstance(block, Figures):
        return ["", *(f"- ![{block.what}]({f.stem}.png) ([SVG]({f.stem}.svg))" for f in block.figures)]
    assert isinstance(block, Contents)
    return []


def render_markdown(outline: Sequence[Block]) -> str:
    """The whole report; its figures are the PNG/SVG files named by their stems, beside it."""
    return "\n".join(line for block in outline for line in _block(block)).lstrip("\n") + "\n"
