"""Choosing labels by the patterns a user gives (``--problems``, ``--optimizers``): exact labels or
shell wildcards such as ``'de*'``, as ``dfo-bench run`` and ``dfo-bench report`` take them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase


def select_labels(labels: Iterable[str], patterns: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the labels, sorted and once each, that match any pattern; the patterns that match none)."""
    known = sorted(set(labels))
    chosen = [label for label in known if any(fnmatchcase(label, p) for p in patterns)]
    missing = [p for p in patterns if not any(fnmatchcase(label, p) for label in known)]
    return chosen, missing
