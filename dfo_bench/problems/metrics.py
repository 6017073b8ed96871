"""The metrics a problem declares for the report (``Metric``) and the ones the built-in problems
declare. Free of torch: the report reads these declarations without loading any problem; the
scores themselves are computed in ``scoring``."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    """A metric that a problem's ``metrics()`` returns for every split besides its loss, and how the
    report shows it: its tables, curves, fixed-target views and ``--targets`` use what a problem
    declares in ``Problem.reported_metrics``."""

    name: str
    """The key in ``metrics()``; stored as the columns ``train_<name>``, ``val_<name>``, ``test_<name>``."""
    label: str
    """How the report names it ("accuracy", "R²")."""
    higher_is_better: bool
    short: str = ""
    """Its name in narrow column headers ("acc."); the label when empty."""
    splits: tuple[str, ...] = ("val", "test")
    """The splits the main table shows it on beside the primary metric (which is shown on both)."""
    spec: str = ".4f"
    """Its number format."""
    bounds: tuple[float, float] = (-math.inf, math.inf)
    """The values it can take (the conformance kit checks them)."""
    log: bool = False
    """Whether targets between its start and its best are spaced geometrically (values spanning
    orders of magnitude, as losses do)."""


ACCURACY = Metric("accuracy", "accuracy", True, short="acc.", bounds=(0.0, 1.0))
F1 = Metric("f1", "macro-F1", True, splits=("test",), bounds=(0.0, 1.0))
CLASSIFICATION = (ACCURACY, F1)
"""What a classifier declares: accuracy (the primary metric, ranked on) and macro-F1, as fractions."""
RETURN = Metric("return", "return", True, spec=".1f")
"""What a control problem declares: the mean undiscounted episode return (its loss is minus it)."""


def metrics_json(metrics: tuple[Metric, ...]) -> str:
    """The declarations as JSON, as a run file stores them (column ``declared_metrics``): infinite
    bounds as null, so that any JSON reader takes them."""
    return json.dumps(
        [{**asdict(m), "bounds": [None if math.isinf(b) else b for b in m.bounds]} for m in metrics], sort_keys=True
    )


def metrics_from_json(text: str) -> tuple[Metric, ...]:
    """The declarations ``metrics_json`` wrote; keys this version does not know are left out."""
    known = set(Metric.__dataclass_fields__)
    metrics = []
    for item in json.loads(text):
        fields: dict[str, Any] = {key: value for key, value in item.items() if key in known}
        low, high = fields.get("bounds") or (None, None)
        fields["bounds"] = (-math.inf if low is None else float(low), math.inf if high is None else float(high))
        fields["splits"] = tuple(fields.get("splits", Metric.splits))
        metrics.append(Metric(**fields))
    return tuple(metrics)
