"""Drawing the convergence figures from ``curves`` data (nothing is computed here).

Figures are made with ``matplotlib.figure.Figure`` directly, not pyplot: no GUI backend is
touched, no global figure list grows, and it works headless like the Agg backend it renders with.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dfo_bench.report.curves import METRICS, X_AXES, Band, Curves

X_LABELS = {"evaluations": "evaluations", "samples": "forward-equivalent samples"}
Y_LABELS = {"best_train_loss": "best-so-far training loss", "val_accuracy": "validation accuracy"}
LOG_Y = {"best_train_loss"}
"""Losses span orders of magnitude; accuracies do not."""

Color = tuple[float, float, float, float]


def optimizer_colors(labels: Iterable[str]) -> dict[str, Color]:
    """A fixed colour per optimizer label, so an optimizer looks the same in every figure."""
    ordered = sorted(set(labels))
    cmap = matplotlib.colormaps["tab10" if len(ordered) <= 10 else "tab20"]
    return {label: cmap(i % cmap.N) for i, label in enumerate(ordered)}


def convergence_figure(curves: Curves, colors: dict[str, Color], title: str) -> Figure:
    """2x2 figure: metrics in rows, x axes (log) in columns; median over seeds with the IQR as a band."""
    fig = Figure(figsize=(11, 8), layout="constrained")
    axes = fig.subplots(len(METRICS), len(X_AXES), sharex="col", squeeze=False)
    for row, y in enumerate(METRICS):
        for col, x in enumerate(X_AXES):
            ax = axes[row, col]
            _draw_bands(ax, curves[(y, x)], colors)
            ax.set_yscale("log" if y in LOG_Y else "linear")
            ax.set_ylabel(Y_LABELS[y])
            ax.set_xlabel(X_LABELS[x] if row == len(METRICS) - 1 else "")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4) or 1, frameon=False)
    fig.suptitle(f"{title}: median over seeds, band = interquartile range")
    return fig


def _draw_bands(ax: Axes, bands: dict[str, Band], colors: dict[str, Color]) -> None:
    for label, band in bands.items():
        ax.fill_between(band.x, band.low, band.high, step="post", color=colors[label], alpha=0.2, linewidth=0)
        ax.plot(band.x, band.median, drawstyle="steps-post", color=colors[label], label=label)
    ax.set_xscale("log")
    ax.grid(True, which="major", alpha=0.3)


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """The figure encoded as ``fmt`` ('png' or 'svg'), for files and for embedding in HTML."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=110)
    return buffer.getvalue()
