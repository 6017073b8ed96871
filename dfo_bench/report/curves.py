"""Convergence data: each seed's trace as a step function on a common log grid, then median and IQR.

Seeds reach their checkpoints at slightly different x values (evaluations, forward-equivalent
samples, wall seconds); the step function (the value of the last checkpoint at or before x) puts them on the
same x values without inventing values between checkpoints. The grid starts at the smallest
positive x, because checkpoint 0 sits at x = 0, which a log axis cannot show.

The median and the band are drawn only where at least half of the seeds (rounded up) have a
value: seeds reach different seconds (one run's first evaluation may come after another run has
ended), and beyond the seeds' common range a "median" would be the curve of whichever seeds are
left, the slow ones. Half rather than all keeps the curve up to the median seed's end, where the
tables' final values are; on evaluations and samples every seed ends at the budget, so nothing
is cut there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

X_AXES = ("evaluations", "samples", "seconds")
METRICS = ("best_train_loss", "val_accuracy", "test_accuracy")
"""A classifier's curves; another problem's are the traces of what it declares (``Declared.traced``)."""
GRID_POINTS = 200


@dataclass(frozen=True)
class Band:
    """Median and quartiles over seeds at each grid x; NaN where fewer than half the seeds have a value there."""

    x: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray


Curves = dict[tuple[str, str], dict[str, Band]]
"""(metric, x axis) -> optimizer label -> band."""


def with_best_train_loss(runs: pd.DataFrame) -> pd.DataFrame:
    """Adds ``best_train_loss``: the running minimum over checkpoints of the recommended point's training loss."""
    ordered = runs.sort_values(["run_id", "checkpoint"])
    return ordered.assign(best_train_loss=ordered.groupby("run_id")["train_loss"].cummin())


def common_grid(runs: pd.DataFrame, x: str, points: int = GRID_POINTS) -> np.ndarray:
    """Log-spaced ``x`` from the smallest positive to the largest value, plus every run's last ``x``.

    Without the last values a run's final checkpoint (what the tables report) would fall between
    grid points and never be drawn. Empty when no ``x`` is positive.
    """
    values = runs[x].to_numpy(float)
    positive = values[values > 0]
    if not positive.size:
        return np.empty(0)
    ends = runs.groupby("run_id")[x].max().to_numpy(float)
    return np.union1d(np.geomspace(positive.min(), values.max(), points), ends[ends > 0])


def step_on_grid(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """y of the last checkpoint at or before each grid point (x sorted ascending).

    NaN before the first positive x and after the last checkpoint: the seed says nothing there.
    """
    index = np.searchsorted(x, grid, side="right") - 1
    values = y[np.clip(index, 0, None)]
    positive = x[x > 0]
    outside = (grid < positive.min()) | (grid > x[-1]) if positive.size else np.full(grid.shape, True)
    return np.where(outside, np.nan, values)


def quantile_band(values: np.ndarray, grid: np.ndarray) -> Band:
    """Median and 25th/75th percentiles over the rows (seeds) of ``values`` at each grid x where at
    least half of them (rounded up) have a value, over those that do; NaN elsewhere."""
    median, low, high = (np.full(grid.shape, np.nan) for _ in range(3))
    if values.ndim != 2 or not values.shape[0]:
        return Band(grid, median, low, high)
    seen = (~np.isnan(values)).sum(axis=0) >= math.ceil(values.shape[0] / 2)
    if seen.any():  # a metric the problem does not have (a test function's accuracy) stays NaN
        median[seen] = np.nanmedian(values[:, seen], axis=0)
        low[seen], high[seen] = np.nanpercentile(values[:, seen], [25, 75], axis=0)
    return Band(grid, median, low, high)


def seed_band(runs: pd.DataFrame, x: str, y: str, grid: np.ndarray) -> Band:
    """The band of metric ``y`` against ``x`` over the runs (seeds) of one optimizer (the two
    columns taken once, sorted by run and checkpoint, and cut into runs: no frame per run)."""
    ordered = runs[["run_id", "checkpoint", x, y]].sort_values(["run_id", "checkpoint"], kind="stable")
    ids = ordered["run_id"].to_numpy()
    xs, ys = ordered[x].to_numpy(float), ordered[y].to_numpy(float)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.array([], int)
    ends = np.r_[starts[1:], len(ids)]
    values = np.array([step_on_grid(xs[a:b], ys[a:b], grid) for a, b in zip(starts, ends, strict=True)])
    return quantile_band(values, grid)


def convergence_curves(runs: pd.DataFrame, labels: Sequence[str], metrics: Sequence[str] = METRICS) -> Curves:
    """Bands of each of ``metrics`` (trace columns) against every x axis for the ok runs of one
    problem, in ``labels`` order (a metric the runs lack gives NaN bands, which are not drawn).

    All optimizers share one grid per x axis, spanning the x range of every ok run of the problem.
    ``labels`` must each have at least one ok run.
    """
    ok = with_best_train_loss(runs[runs["status"] == "ok"])
    by_label = {label: ok[ok["optimizer_label"] == label] for label in labels}
    curves: Curves = {}
    for x in X_AXES:
        grid = common_grid(ok, x)
        for y in metrics:
            if y not in ok:
                continue
            curves[(y, x)] = {label: seed_band(part, x, y, grid) for label, part in by_label.items()}
    return curves
