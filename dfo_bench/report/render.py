"""The report as Markdown (next to its image files) and as one self-contained HTML page."""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass

import pandas as pd

TITLE = "dfo-bench report"
RANK_NOTE = (
    "Accuracies and macro-F1 are fractions on the final recommended point, mean ± sd over seeds. "
    "Rank: mean over seeds of the optimizer's rank by final test accuracy within the seed (1 = best). "
    "Evaluations, forward-equivalent samples and seconds: mean used per run. Coordinates: size of the "
    "space searched (all weights, or histogram blocks). Pre-training samples: cost of the shared "
    "pre-trained start, outside the budget (— for none). Failed runs are not averaged."
)


@dataclass(frozen=True)
class Section:
    """What the report shows for one problem."""

    problem: str
    budget: str
    table: pd.DataFrame
    """Numeric summary table (see ``tables.summary_table``)."""
    failed: pd.DataFrame
    """Failed runs: run_id, optimizer_label, seed, one-line error."""
    figure: str | None
    """File stem of the convergence figure (.png and .svg), None when no run succeeded."""
    png: bytes | None


def _fmt(value: float, spec: str) -> str:
    return "—" if math.isnan(value) else format(value, spec)


def _mean_sd(mean: float, sd: float) -> str:
    return _fmt(mean, ".4f") + ("" if math.isnan(sd) else f" ± {sd:.4f}")


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The summary table as text for people: 4-decimal fractions, mean ± sd, counts ok / failed."""
    return pd.DataFrame(
        {
            "optimizer": table["optimizer"],
            "rank": table["rank"].map(lambda v: _fmt(v, ".2f")),
            "test accuracy": [
                _mean_sd(m, s) for m, s in zip(table["test_accuracy_mean"], table["test_accuracy_sd"], strict=True)
            ],
            "test acc. median": table["test_accuracy_median"].map(lambda v: _fmt(v, ".4f")),
            "val accuracy": [_mean_sd(m, s) for m, s in zip(table["val_accuracy_mean"], table["val_accuracy_sd"], strict=True)],
            "test macro-F1": [_mean_sd(m, s) for m, s in zip(table["test_f1_mean"], table["test_f1_sd"], strict=True)],
            "evaluations": table["evaluations"].map(lambda v: _fmt(v, ",.0f")),
            "samples": table["samples"].map(lambda v: _fmt(v, ",.0f")),
            "seconds": table["seconds"].map(lambda v: _fmt(v, ".1f")),
            "coordinates": table["coordinates"].map(lambda v: _fmt(v, ",.0f")),
            "pre-training samples": table["pretrain_samples"].map(lambda v: _fmt(v, ",.0f")),
            "seeds ok / failed": [
                f"{ok} / {failed}" for ok, failed in zip(table["seeds_ok"], table["seeds_failed"], strict=True)
            ],
        }
    )


def _failed_lines(failed: pd.DataFrame) -> list[str]:
    return [f"{row.run_id} ({row.optimizer_label}, seed {row.seed}): {row.error}" for row in failed.itertuples()]


def render_markdown(meta: dict[str, str], sections: list[Section]) -> str:
    """Markdown with image links to the PNG files written next to it."""
    lines = [f"# {TITLE}", "", *(f"- **{key}:** {value}" for key, value in meta.items()), "", RANK_NOTE]
    for section in sections:
        lines += ["", f"## {section.problem}", "", f"Budget per run: {section.budget}.", ""]
        shown = display_table(section.table)
        align = ["left"] + ["right"] * (len(shown.columns) - 1)
        lines += [shown.to_markdown(index=False, disable_numparse=True, colalign=align), ""]
        if section.figure:
            lines += [f"![Convergence on {section.problem}]({section.figure}.png) ([SVG]({section.figure}.svg))"]
        else:
            lines += ["No successful run to plot."]
        if not section.failed.empty:
            lines += ["", "### Failed runs", "", *(f"- {line}" for line in _failed_lines(section.failed))]
    return "\n".join(lines) + "\n"


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; }
code { font-size: 0.9em; }
"""


def _html_section(section: Section) -> list[str]:
    escape = html.escape
    parts = [f"<h2>{escape(section.problem)}</h2>", f"<p>Budget per run: {escape(section.budget)}.</p>"]
    parts.append(display_table(section.table).to_html(index=False, border=0, escape=True))
    if section.png:
        data = base64.b64encode(section.png).decode("ascii")
        parts.append(f'<p><img alt="Convergence on {escape(section.problem)}" src="data:image/png;base64,{data}"></p>')
    else:
        parts.append("<p>No successful run to plot.</p>")
    if not section.failed.empty:
        items = "".join(f"<li><code>{escape(line)}</code></li>" for line in _failed_lines(section.failed))
        parts += ["<h3>Failed runs</h3>", f"<ul>{items}</ul>"]
    return parts


def render_html(meta: dict[str, str], sections: list[Section]) -> str:
    """One page that needs no other file: tables as HTML, figures as inline base64 PNG."""
    items = "".join(f"<li><b>{html.escape(key)}:</b> {html.escape(value)}</li>" for key, value in meta.items())
    body = [f"<h1>{TITLE}</h1>", f"<ul>{items}</ul>", f"<p>{html.escape(RANK_NOTE)}</p>"]
    for section in sections:
        body += _html_section(section)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{TITLE}</title>\n'
        f"<style>{STYLE}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )
