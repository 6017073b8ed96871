"""Pareto fronts and their hypervolume: what a multi-objective run attained, in one place.

The run's objective keeps the non-dominated set of every loss vector it evaluated (``ParetoFront``),
the runner stores it at each checkpoint with its hypervolume, and the report reads it back. The
non-dominated filter is pymoo's ``NonDominatedSorting`` and the hypervolume pymoo's indicator
(``pymoo.indicators.hv.HV``, computed by moocore); nothing here re-implements either. All
objectives are minimised; the hypervolume is that of the region dominated by the front and
bounded by the problem's reference point (points that do not dominate it add nothing).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from pymoo.indicators.hv import HV
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Indices of the rows of F (n, m) that no other row dominates (duplicates: one of them kept)."""
    F = np.asarray(F, dtype=float)
    if len(F) == 0:
        return np.empty(0, dtype=int)
    _, first = np.unique(F, axis=0, return_index=True)  # equal points do not dominate each other
    front = NonDominatedSorting().do(F[np.sort(first)], only_non_dominated_front=True)
    return np.sort(first)[np.asarray(front, dtype=int)]


def hypervolume(F: np.ndarray, reference_point: Sequence[float]) -> float:
    """Hypervolume of the points F (n, m) with respect to ``reference_point`` (0 for no point)."""
    F = np.asarray(F, dtype=float).reshape(-1, len(reference_point))
    inside = F[(F < np.asarray(reference_point, dtype=float)).all(axis=1)]
    if len(inside) == 0:
        return 0.0
    return float(HV(ref_point=np.asarray(reference_point, dtype=float))(inside))


class ParetoFront:
    """The non-dominated set of the loss vectors seen so far, as (k, m) float64, lexicographically sorted."""

    def __init__(self, n_objectives: int) -> None:
        self.points = np.empty((0, n_objectives))

    def update(self, F: np.ndarray) -> None:
        """Add the loss vectors F (n, m); dominated points (old or new) are dropped."""
        F = np.asarray(F, dtype=float).reshape(-1, self.points.shape[1])
        F = F[np.isfinite(F).all(axis=1)]
        if len(F) == 0:
            return
        both = np.concatenate([self.points, F])
        kept = both[non_dominated(both)]
        self.points = kept[np.lexsort(kept.T[::-1])]

    def to_json(self) -> str:
        """The front as a JSON list of lists: how it is stored in a Parquet column (no pickles)."""
        return json.dumps(self.points.tolist())


def front_from_json(text: str | None) -> np.ndarray:
    """A stored front back as a (k, m) array; an empty (0, 0) array for None or NaN."""
    if not isinstance(text, str):
        return np.empty((0, 0))
    points = np.asarray(json.loads(text), dtype=float)
    return points if points.ndim == 2 else np.empty((0, 0))
