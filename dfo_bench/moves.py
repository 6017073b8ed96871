"""Populations given as moves from one point: a compact form that problems may evaluate faster.

A single-solution search tries candidates that each differ from the current point in one
coordinate. Sent as a dense (P, D) matrix, the problem would have to re-run whole forward
passes; sent as ``CoordinateMoves`` it can update cached activations instead (an MLP does so
exactly). A problem that has no such shortcut evaluates ``dense()``; the charge is the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from dfo_bench.lowrank import LowRankPopulation


@dataclass(frozen=True)
class CoordinateMoves:
    """P candidates: candidate p is ``base`` with coordinate ``index[p]`` set to ``value[p]``."""

    base: torch.Tensor
    """(D,) float32."""
    index: torch.Tensor
    """(P,) int64."""
    value: torch.Tensor
    """(P,) float32."""
    shape: tuple[int, int] = field(init=False, repr=False, compare=False)
    """(P, D), as the dense matrix's; set once (it is read several times per trial)."""

    def __post_init__(self) -> None:
        if self.base.ndim != 1 or self.index.shape != self.value.shape or self.index.ndim != 1:
            raise ValueError(
                f"moves need a base (D,) and index/value (P,), got {tuple(self.base.shape)}, "
                f"{tuple(self.index.shape)}, {tuple(self.value.shape)}"
            )
        object.__setattr__(self, "shape", (self.index.shape[0], self.base.shape[0]))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice) -> CoordinateMoves:
        return CoordinateMoves(self.base, self.index[rows], self.value[rows])

    def dense(self) -> torch.Tensor:
        """The candidates as a (P, D) matrix."""
        X = self.base.expand(len(self), -1).clone()
        X[torch.arange(len(self)), self.index] = self.value.to(X.dtype)
        return X


Population = torch.Tensor | CoordinateMoves | LowRankPopulation
"""What ``ask`` returns and ``Problem.evaluate`` takes."""


def dense(X: Population) -> torch.Tensor:
    """Any population as a (P, D) matrix."""
    return X if isinstance(X, torch.Tensor) else X.dense()
