"""What each figure shows, as plain data: lines, bands, reference lines, axes.

Built here from the computed curves, ECDFs and profiles; drawn by ``plots`` (matplotlib, PNG/SVG
for papers) and by ``interactive`` (plotly, for the HTML page), so both show the same numbers.
One figure per view (one metric against one x axis), so 20 optimizers stay readable; each
optimizer keeps one colour and line style everywhere: 10 colours, then the same colours dashed,
dotted and dash-dotted (40 distinct styles).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import matplotlib
import numpy as np
from matplotlib.colors import to_hex

from dfo_bench.report.curves import Curves
from dfo_bench.report.targets import Ecdf

DASHES = ("solid", "dash", "dot", "dashdot")
X_LABELS = {"evaluations": "evaluations", "samples": "forward-equivalent samples", "seconds": "wall seconds"}
Y_LABELS = {
    "best_train_loss": "best-so-far training loss",
    "val_accuracy": "validation accuracy",
    "test_accuracy": "test accuracy",
}
REFERENCE_METRIC = {"best_train_loss": "train_loss", "val_accuracy": "val_accuracy", "test_accuracy": "test_accuracy"}
"""Which published metric a convergence view can show as a horizontal reference line."""
LOG_Y = {"best_train_loss"}


@dataclass(frozen=True)
class Style:
    color: str
    """Hex colour."""
    dash: str
    """One of ``DASHES``."""


@dataclass(frozen=True)
class Line:
    """One optimizer's curve; ``low``/``high`` bound its band (IQR over seeds) when given."""

    label: str
    x: np.ndarray
    y: np.ndarray
    style: Style
    low: np.ndarray | None = None
    high: np.ndarray | None = None


@dataclass(frozen=True)
class Reference:
    """A published value drawn as a horizontal line, marked as published and not re-run."""

    label: str
    y: float


@dataclass(frozen=True)
class FigureData:
    stem: str
    """File stem of the figure's PNG/SVG and id of its HTML element."""
    title: str
    x_label: str
    y_label: str
    log_x: bool
    log_y: bool
    lines: tuple[Line, ...]
    references: tuple[Reference, ...] = field(default=())
    step: bool = True
    context: str = ""
    """What the figure is about (the problem), put before the title where the figure stands alone
    (PNG/SVG); the HTML page shows it as the section heading instead."""
    markers: bool = False
    """Mark each point (attained Pareto fronts), not only the line through them."""

    @property
    def full_title(self) -> str:
        return f"{self.context}: {self.title}" if self.context else self.title


def optimizer_styles(labels: Iterable[str]) -> dict[str, Style]:
    """A fixed colour and line style per optimizer label, so it looks the same in every figure."""
    colors = [to_hex(c) for c in matplotlib.colormaps["tab10"].colors]  # type: ignore[attr-defined]
    ordered = sorted(set(labels))
    return {label: Style(colors[i % 10], DASHES[(i // 10) % len(DASHES)]) for i, label in enumerate(ordered)}


def convergence_figures(
    curves: Curves,
    styles: Mapping[str, Style],
    problem: str,
    stem: str,
    references: Mapping[str, list[Reference]],
    labels: Mapping[str, tuple[str, bool]] | None = None,
    x_labels: Mapping[str, str] = X_LABELS,
) -> list[FigureData]:
    """One figure per (metric, x axis): median over seeds with the interquartile range as a band.
    ``labels``: (axis label, log scale) per metric column (default: a classifier's); ``x_labels``:
    the name of each x axis (a control problem's samples are environment steps)."""
    labels = labels or {metric: (Y_LABELS[metric], metric in LOG_Y) for metric in Y_LABELS}
    figures = []
    for (metric, x), bands in curves.items():
        lines = tuple(
            Line(label, band.x, band.median, styles[label], band.low, band.high)
            for label, band in bands.items()
            if not np.isnan(band.median).all()
        )
        if not lines:
            continue
        positive = all((line.y[np.isfinite(line.y)] > 0).all() for line in lines)  # −return is not
        figures.append(
            FigureData(
                stem=f"{stem}-{metric.replace('_', '-')}-vs-{x}",
                title=f"{labels[metric][0]} vs {x_labels[x]} (median over seeds, band: IQR)",
                x_label=x_labels[x],
                y_label=labels[metric][0],
                log_x=True,
                log_y=labels[metric][1] and positive,
                lines=lines,
                references=tuple(references.get(REFERENCE_METRIC.get(metric, metric), [])),
                context=problem,
            )
        )
    return figures


def ecdf_figure(
    ecdfs: Mapping[str, Ecdf], styles: Mapping[str, Style], title: str, x_label: str, stem: str, context: str = ""
) -> FigureData:
    """Runtime ECDF (data profile): fraction of (run, target) pairs reached against runtime, log x."""
    lines = []
    for label, ecdf in ecdfs.items():
        x = ecdf.x if ecdf.x.size else np.array([np.nan])
        y = ecdf.fraction if ecdf.x.size else np.array([0.0])
        lines.append(Line(label, x, y, styles[label]))
    return FigureData(stem, title, x_label, "fraction of (run, target) pairs reached", True, False, tuple(lines), context=context)


def profile_figure(taus: np.ndarray, profiles: Mapping[str, np.ndarray], styles: Mapping[str, Style], title: str) -> FigureData:
    """Dolan–Moré performance profile: fraction of problems solved within a factor tau of the best."""
    lines = tuple(Line(label, taus, rho, styles[label]) for label, rho in profiles.items())
    return FigureData(
        "performance-profile", title, "τ (cost / best cost on the problem)", "fraction of problems", True, False, lines
    )
