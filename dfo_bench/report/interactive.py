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


def _traces(line: Line, step: bool) -> list[go.Scatter]:
    shape = "hv" if step else "linear"
    group = line.label
    traces = []
    if line.low is not None and line.high is not None:
        band = dict(x=_values(line.x), legendgroup=group, showlegend=False, hoverinfo="skip", line={"width": 0, "shape": shape})
        traces.append(go.Scatter(y=_values(line.high), mode="lines", **band))
        traces.append(
            go.Scatter(y=_values(line.low), mode="lines", fill="tonexty", fillcolor=_hex_rgba(line.style.color, 0.15), **band)
        )
    traces.append(
        go.Scatter(
            x=_values(line.x),
            y=_values(line.y),
            mode="lines",
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
        for trace in _traces(line, data.step):
            fig.add_trace(trace)
    for reference in data.references:
        fig.add_hline(y=reference.y, line={"color": "#555", "dash": "dot", "width": 1.5})
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=reference.label, line={"color": "#555", "dash": "dot"}))
    fig.update_layout(
        title={"text": data.title, "font": {"size": 13}},
        xaxis={"title": {"text": data.x_label}, "type": "log" if data.log_x else "linear"},
        yaxis={"title": {"text": data.y_label}, "type": "log" if data.log_y else "linear"},
        template="plotly_white",
        height=430,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"font": {"size": 10}},
    )
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"plot-{data.stem}", config=CONFIG)
