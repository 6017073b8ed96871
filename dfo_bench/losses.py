"""A population's losses read on the host, as cheaply as their number allows.

The loop reads every population's losses a few times (the objective's best so far, the NaN check
of ``tell``). A torch reduction on a small tensor costs microseconds, a large share of a
one-move trial (direct search: tens of microseconds); a few values are read as Python floats
instead. Written here, not taken from a library, because it is that per-call cost it avoids.
"""

from __future__ import annotations

import math

import torch

FEW = 64
"""Losses of one objective on the CPU up to this many are read as Python floats."""


def _few(losses: torch.Tensor) -> list[float] | None:
    """The losses as Python floats where they are few, of one objective and on the CPU; else None."""
    return losses.tolist() if losses.is_cpu and losses.ndim == 1 and losses.shape[0] <= FEW else None


def any_nan(losses: torch.Tensor) -> bool:
    """Whether any loss is NaN."""
    few = _few(losses)
    return bool(torch.isnan(losses).any()) if few is None else any(map(math.isnan, few))


def lowest(losses: torch.Tensor) -> float:
    """The lowest of a population's losses of one objective, (P,): NaN if any is NaN (as torch's
    ``min``, whatever their order)."""
    few = _few(losses)
    if few is None:
        return float(losses.min())
    return math.nan if any(map(math.isnan, few)) else min(few)
