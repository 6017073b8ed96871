"""Interactive figures for the HTML page: plotly, its JavaScript inlined once in the page head.

Each figure becomes a ``<div>`` and a short script calling ``Plotly.newPlot``; nothing is loaded
from a network (no CDN), so the page works offline. Clicking a legend entry hides an optimizer.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from dfo_bench.report.figures import FigureData, Line

REFERENCE_DASHES = ("dot", "longdashdot", "longdash")
"""Published values: grey, in dash patterns no optimizer uses."""
CONFIG = {"displaylogo": False, "responsive": True, "toImageButtonOptions": {"format": "svg"}}


def plotly_js() -> str:
    """The plotly.js bundle shipped inside the plotly package (about 4.5 MB), for one inline script."""
    return get_plotlyjs()


def _hex_rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _values(a: np.ndarray) -> list[float | None]:
    """JSON-safe values: NaN and infinities become gaps."""
    return [float(v) if math.isfinite(v) else None for v in np.asarray(a, float)]


def _spans(defined: np.ndarray) -> list[slice]:
    """The maximal runs of True in ``defined``."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], defined.astype(np.int8), [0]])))
    return [slice(int(start), int(stop)) for start, stop in zip(edges[::2], edges[1::2], strict=True)]


def _traces(line: Line, step: bool, markers: bool = False) -> list[go.Scatter]:
    shape = "hv" if step else "linear"
    group = line.label
    traces = []
    if line.low is not None and line.high is not None:
        # One filled pair per stretch where the band is defined: plotly's "tonexty" would join
        # the stretches on either side of a gap into one polygon across the plot.
        low, high = np.asarray(line.low, float), np.asarray(line.high, float)
        for span in _spans(np.isfinite(low) & np.isfinite(high)):
            band = dict(
                x=_values(line.x[span]), legendgroup=group, showlegend=False, hoverinfo="skip", line={"width": 0, "shape": shape}
            )
            traces.append(go.Scatter(y=_values(high[span]), mode="lines", **band))
            fill = _hex_rgba(line.style.color, 0.15)
            traces.append(go.Scatter(y=_values(low[span]), mode="lines", fill="tonexty", fillcolor=fill, **band))
    traces.append(
        go.Scatter(
            x=_values(line.x),
            y=_values(line.y),
            mode="lines+markers" if markers else "lines",
            name=line.label,
            legendgroup=group,
            line={"color": line.style.color, "dash": line.style.dash, "shape": shape, "width": 2},
        )
    )
    return traces


def plotly_div(data: FigureData) -> str:
    """The figure as an HTML fragment (div + script), expecting ``Plotly`` defined by the page."""
    fig = go.Figure()
    for line in data.lines:
        for trace in _traces(line, data.step, data.markers):
            fig.add_trace(trace)
    for i, reference in enumerate(data.references):
        dash = REFERENCE_DASHES[i % len(REFERENCE_DASHES)]
        fig.add_hline(y=reference.y, line={"color": "#555", "dash": dash, "width": 1.5})
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=reference.label, line={"color": "#555", "dash": dash}))
    rows = math.ceil((len(data.lines) + len(data.references)) / 2)
    fig.update_layout(
        title={"text": data.title, "font": {"size": 13}, "x": 0.01, "xanchor": "left"},
        xaxis={"title": {"text": data.x_label}, "type": "log" if data.log_x else "linear"},
        yaxis={"title": {"text": data.y_label}, "type": "log" if data.log_y else "linear"},
        template="plotly_white",
        height=400 + 20 * rows,
        margin={"l": 60, "r": 20, "t": 40, "b": 60 + 20 * rows},
        # Below the plot, two entries a row: long labels (all parameters) would squeeze it from the side.
        legend={"font": {"size": 10}, "orientation": "h", "x": 0, "xanchor": "left", "y": -0.12, "yanchor": "top"},
    )
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"plot-{data.stem}", config=CONFIG)
