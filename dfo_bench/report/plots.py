"""Static figures for papers (PNG, SVG) from ``figures.FigureData``, and the critical-difference diagram.

Figures are made with ``matplotlib.figure.Figure`` directly, not pyplot: no GUI backend is
touched, no global figure list grows, and it works headless like the Agg backend it renders with.
"""

from __future__ import annotations

import io
import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dfo_bench.report.figures import FigureData

LINESTYLES = {"solid": "-", "dash": "--", "dot": ":", "dashdot": "-."}
REFERENCE_STYLES = (":", (0, (6, 2, 1, 2, 1, 2)), (0, (1, 4)))
"""Published values: grey, in line styles no optimizer uses, so two references stay apart."""


def static_figure(data: FigureData) -> Figure:
    """One view: a line (and IQR band) per optimizer, published values as grey dotted lines.

    A fixed layout (axes left, legend right) rather than constrained layout: a report writes
    dozens of figures, and measuring every label's extent took half the time of each.
    """
    fig = Figure(figsize=(10, 5.2))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.08, right=0.68, bottom=0.11, top=0.88)
    drawstyle = "steps-post" if data.step else "default"
    for line in data.lines:
        if line.low is not None and line.high is not None:
            ax.fill_between(
                line.x, line.low, line.high, step="post" if data.step else None, color=line.style.color, alpha=0.15, linewidth=0
            )
        ax.plot(
            line.x,
            line.y,
            drawstyle=drawstyle,
            color=line.style.color,
            linestyle=LINESTYLES[line.style.dash],
            label=line.label,
            marker="o" if data.markers else None,
            markersize=4,
        )
    for i, reference in enumerate(data.references):
        style = REFERENCE_STYLES[i % len(REFERENCE_STYLES)]
        ax.axhline(reference.y, color="0.3", linestyle=style, linewidth=1.2, label=reference.label)
    ax.set_xscale("log" if data.log_x else "linear")
    ax.set_yscale("log" if data.log_y else "linear")
    ax.minorticks_off()  # minor log ticks cost a third of the drawing time and say little here
    ax.set_xlabel(data.x_label)
    ax.set_ylabel(data.y_label)
    ax.grid(True, which="major", alpha=0.3)
    ax.set_title(textwrap.fill(data.full_title, 80), fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    if labels:
        wrapped = [textwrap.fill(label, 42, subsequent_indent="  ") for label in labels]  # parameters make labels long
        fig.legend(handles, wrapped, loc="upper left", bbox_to_anchor=(0.69, 0.88), fontsize=8, frameon=False)
    return fig


def critical_difference_figure(mean_ranks: pd.Series, cd: float, title: str) -> Figure:
    """Demšar's diagram: optimizers on the mean-rank axis (1 = best, left); a red bar joins every
    group whose ranks differ by less than the critical difference (not significantly different)."""
    k = len(mean_ranks)
    values = mean_ranks.to_numpy(float)
    cliques = _cliques(values, cd)
    first = -0.6 - 0.35 * len(cliques)  # labels start below the bars
    fig = Figure(figsize=(8, 1.4 + 0.3 * (k + len(cliques))), layout="constrained")
    ax = fig.subplots()
    ax.set_xlim(0.8, k + 0.2)
    ax.set_ylim(first - 0.6 * k, 2.2)
    ax.axhline(0, color="black", linewidth=1)
    for r in range(1, k + 1):
        ax.plot([r, r], [0, 0.2], color="black", linewidth=1)
        ax.text(r, 0.35, str(r), ha="center", va="bottom", fontsize=8)
    ax.plot([1, 1 + cd], [1.5, 1.5], color="black", linewidth=2)
    ax.text(1 + cd / 2, 1.65, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=8)
    for j, (start, end) in enumerate(cliques):
        ax.plot([values[start] - 0.03, values[end] + 0.03], [-0.3 - 0.35 * j] * 2, color="tab:red", linewidth=3)
    for i, (label, rank) in enumerate(mean_ranks.items()):
        y = first - 0.6 * i
        ax.plot([rank, rank, k + 0.1], [0, y, y], color="0.4", linewidth=0.8)
        ax.text(k + 0.15, y, f"{label} ({rank:.2f})", ha="left", va="center", fontsize=8)
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    return fig


def _cliques(ranks: np.ndarray, cd: float) -> list[tuple[int, int]]:
    """Maximal runs of sorted mean ranks spanning less than ``cd`` (more than one member)."""
    spans: list[tuple[int, int]] = []
    for start in range(len(ranks)):
        end = start
        while end + 1 < len(ranks) and ranks[end + 1] - ranks[start] < cd:
            end += 1
        if end > start and not any(s <= start and end <= e for s, e in spans):
            spans.append((start, end))
    return spans


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """The figure encoded as ``fmt`` ('png' or 'svg'), for files and for embedding in HTML."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=110)
    return buffer.getvalue()
