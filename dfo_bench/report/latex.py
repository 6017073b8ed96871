"""The main table of each problem as a LaTeX booktabs table, for papers (``report --format latex``).

Needs ``\\usepackage{booktabs}``. Optimizers not significantly worse than the best are bold;
published rows follow a rule, in italics, marked as not re-run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dfo_bench.report.analysis import ProblemAnalysis
from dfo_bench.report.display import TextTable, main_table, main_table_note, start_table
from dfo_bench.report.tuning import tuning_note

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
    """A booktabs ``table`` environment: left-aligned first two columns, the rest right-aligned."""
    spec = "ll" + "r" * (len(table.columns) - 2)
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


def render_latex(analyses: Sequence[ProblemAnalysis], tuning: TextTable | None = None) -> str:
    """One table per problem, each with its reading note as the caption (and the improvement over
    the start for runs from pre-trained weights); then the tuning table (suites with ``tuning:``)."""
    tables = []
    for i, analysis in enumerate(analyses):
        caption = f"{analysis.problem} (budget per run: {analysis.budget}). " + main_table_note(analysis)
        tables.append(latex_table(main_table(analysis), caption, f"tab:dfo-bench-{i}"))
        if analysis.start is not None:
            caption = f"{analysis.problem}: improvement over the start. " + analysis.start.note
            tables.append(latex_table(start_table(analysis), caption, f"tab:dfo-bench-{i}-start"))
    if tuning is not None:
        caption = "Tuning: configuration chosen and cost per optimizer. " + tuning_note()
        tables.append(latex_table(tuning, caption, "tab:dfo-bench-tuning"))
    header = "% Written by dfo-bench report --format latex; needs \\usepackage{booktabs}.\n"
    return header + "\n\n".join(tables) + "\n"
