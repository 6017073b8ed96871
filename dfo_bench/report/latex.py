"""The report's tables as LaTeX booktabs tables, for papers (``report --format latex``).

Renders the tables of the outline (``report.outline``); their section, title and note make the caption.
Needs ``\\usepackage{booktabs}``. Optimizers not significantly worse than the best are bold;
published rows follow a rule, in italics, marked as not re-run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dfo_bench.report.display import TEXT_COLUMNS, TextTable
from dfo_bench.report.outline import Block, Heading, Table

SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "—": "---",
    "≥": r"$\geq$",
    "±": r"$\pm$",
    "α": r"$\alpha$",
    "χ": r"$\chi$",
    "²": r"$^2$",
    "∞": r"$\infty$",
    "∈": r"$\in$",
}
PATTERN = re.compile("|".join(re.escape(k) for k in SPECIAL))


def escape(text: str) -> str:
    """Text safe inside a LaTeX table cell."""
    return PATTERN.sub(lambda m: SPECIAL[m.group(0)], text)


def latex_table(table: TextTable, caption: str, label: str) -> str:
    """A booktabs ``table`` environment: text columns left-aligned, numbers right-aligned."""
    spec = "".join("l" if c in TEXT_COLUMNS else "r" for c in table.columns)
    lines = [r"\begin{table}[htbp]", r"\centering", r"\small", rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    lines.append(" & ".join(escape(c) for c in table.columns) + r" \\")
    lines.append(r"\midrule")
    for i, row in enumerate(table.rows):
        bold = i < len(table.bold) and table.bold[i]
        cells = [escape(c.text) for c in row]
        lines.append(" & ".join(rf"\textbf{{{c}}}" if bold and c else c for c in cells) + r" \\")
    if table.references:
        lines.append(r"\midrule")
        for row in table.references:
            lines.append(" & ".join(rf"\textit{{{escape(c.text)}}}" if c.text else "" for c in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{escape(caption)}}}", rf"\label{{{label}}}", r"\end{table}"]
    return "\n".join(lines)


def _lower_first(text: str) -> str:
    """'Final metrics' -> 'final metrics' after a colon; 'ERT in ...' stays."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def render_latex(outline: Sequence[Block]) -> str:
    """The outline's tables for papers (not those for the HTML page only), in its order; each
    captioned by its section, its title or part heading, and its note, and labelled
    ``tab:dfo-bench-<section anchor>[-<key>]``."""
    tables, section, part = [], Heading("", 2), ""
    for block in outline:
        if isinstance(block, Heading):
            section, part = (block, "") if block.level <= 2 else (section, block.text)
        elif isinstance(block, Table) and block.paper:
            what = block.title or part
            caption = f"{section.text}: {_lower_first(what)}." if what else f"{section.text}."
            label = "-".join(p for p in ("tab:dfo-bench", section.anchor, block.key) if p)
            tables.append(latex_table(block.table, f"{caption} {block.note}".strip(), label))
    header = "% Written by dfo-bench report --format latex; needs \\usepackage{booktabs}.\n"
    return header + "\n\n".join(tables) + "\n"
