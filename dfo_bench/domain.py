"""Typed (mixed) domains: integers, floats (optionally log-scaled) and choices, by name.

A problem that searches hyper-parameters instead of weights declares a ``TypedDomain``: ordered
ranges (``dfo_bench.ranges``) and a default configuration. So that the objective, the loop, the
budget and the store stay as they are, a candidate is still a row of a float32 tensor: its
*encoding*, one coordinate per parameter (an integer as its value, a float as its value, a choice
as its index). ``decode`` turns a row into the configuration a problem trains (rounding and
clipping whatever an optimizer proposes into the domain), ``encode`` does the reverse. Floats are
float32 in the encoding, so a decoded float is the float32 value that was trained and recorded.

Continuous box optimizers search a typed domain through the unit box: ``from_unit`` maps
u ∈ [0, 1]^d to encoded rows, every integer and every choice getting an equal share of [0, 1]
(a log-scaled parameter is uniform in its logarithm), and ``to_unit`` maps rows back to the
centres of those shares.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np
import torch

from dfo_bench.ranges import ChoiceRange, IntRange, Range, Ranges

Value = int | float | str
"""A decoded parameter value."""


class TypedDomain:
    """Named ranges in order, and a default configuration; see the module docstring for the encoding."""

    def __init__(self, ranges: Ranges, default: Mapping[str, Value]) -> None:
        self.ranges: Ranges = MappingProxyType(dict(ranges))
        self.names = tuple(self.ranges)
        self.default = self.decode(self.encode(default))
        """The configuration a run starts from (the problem's recommendation before any evaluation)."""

    @property
    def dim(self) -> int:
        return len(self.names)

    def __getitem__(self, name: str) -> Range:
        return self.ranges[name]

    # --- encoded rows <-> configurations -----------------------------------------------------------

    def decode(self, row: torch.Tensor | np.ndarray | Sequence[float]) -> dict[str, Value]:
        """The configuration of one encoded row; values outside the domain are rounded and clipped into it."""
        values = np.asarray(row.detach().cpu() if isinstance(row, torch.Tensor) else row, dtype=np.float64).reshape(-1)
        if values.shape != (self.dim,):
            raise ValueError(f"expected an encoded row of {self.dim} values, got shape {values.shape}")
        config: dict[str, Value] = {}
        for (name, r), v in zip(self.ranges.items(), values, strict=True):
            if not math.isfinite(v):
                raise ValueError(f"{name}: not a finite value ({v})")
            if isinstance(r, IntRange):
                config[name] = int(min(max(round(v), r.low), r.high))
            elif isinstance(r, ChoiceRange):
                config[name] = r.choices[int(min(max(round(v), 0), len(r.choices) - 1))]
            else:
                config[name] = float(np.float32(min(max(v, r.low), r.high)))
        return config

    def encode(self, config: Mapping[str, Value]) -> torch.Tensor:
        """The encoded row (dim,), float32, of a configuration naming every parameter."""
        missing = [n for n in self.names if n not in config]
        unknown = [n for n in config if n not in self.names]
        if missing or unknown:
            raise ValueError(f"configuration: missing {missing}, unknown {unknown}; parameters: {list(self.names)}")
        row = []
        for name, r in self.ranges.items():
            v = config[name]
            if isinstance(r, ChoiceRange):
                index = r.index(v)
                if index is None:
                    raise ValueError(f"{name}: {v!r} is not one of {r.choices}")
                row.append(float(index))
            else:
                if isinstance(v, str) or not r.low <= v <= r.high:
                    raise ValueError(f"{name}: {v!r} is not in [{r.low}, {r.high}]")
                if isinstance(r, IntRange) and v != int(v):
                    raise ValueError(f"{name}: {v!r} is not an integer")
                row.append(float(v))
        return torch.tensor(row, dtype=torch.float32)

    def canonical(self, X: torch.Tensor) -> torch.Tensor:
        """Each row replaced by the encoding of its decoded configuration (rounded, clipped)."""
        return torch.stack([self.encode(self.decode(x)) for x in X]).to(X.device) if len(X) else X.clone()

    # --- sampling and the unit box -------------------------------------------------------------

    def sample(self, n: int, rng: np.random.Generator) -> torch.Tensor:
        """n configurations drawn uniformly (log-uniformly where ``log``), encoded, (n, dim)."""
        return self.from_unit(rng.random((n, self.dim)))

    def from_unit(self, U: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Encoded rows (n, dim), float32, of points of the unit box [0, 1]^dim (values outside are clipped)."""
        u = np.clip(np.asarray(U.detach().cpu() if isinstance(U, torch.Tensor) else U, dtype=np.float64), 0.0, 1.0)
        if u.ndim != 2 or u.shape[1] != self.dim:
            raise ValueError(f"expected unit-box points of shape (n, {self.dim}), got {u.shape}")
        out = np.empty_like(u)
        for j, r in enumerate(self.ranges.values()):
            if isinstance(r, ChoiceRange):
                out[:, j] = np.minimum(np.floor(u[:, j] * len(r.choices)), len(r.choices) - 1)
            elif isinstance(r, IntRange) and not r.log:
                out[:, j] = np.minimum(r.low + np.floor(u[:, j] * (r.high - r.low + 1)), r.high)
            elif isinstance(r, IntRange):  # log-uniform over [low - 1/2, high + 1/2], rounded
                lo, hi = math.log(r.low - 0.5), math.log(r.high + 0.5)
                out[:, j] = np.clip(np.round(np.exp(lo + u[:, j] * (hi - lo))), r.low, r.high)
            elif r.log:
                out[:, j] = np.exp(math.log(r.low) + u[:, j] * (math.log(r.high) - math.log(r.low)))
            else:
                out[:, j] = r.low + u[:, j] * (r.high - r.low)
        return torch.from_numpy(out.astype(np.float32))

    def to_unit(self, X: torch.Tensor | np.ndarray) -> np.ndarray:
        """Unit-box points (n, dim), float64, of encoded rows: ``from_unit(to_unit(X))`` gives X back
        (after rounding into the domain)."""
        x = np.asarray(X.detach().cpu() if isinstance(X, torch.Tensor) else X, dtype=np.float64)
        out = np.empty_like(x)
        for j, r in enumerate(self.ranges.values()):
            if isinstance(r, ChoiceRange):
                out[:, j] = (np.clip(np.round(x[:, j]), 0, len(r.choices) - 1) + 0.5) / len(r.choices)
            elif isinstance(r, IntRange) and not r.log:
                out[:, j] = (np.clip(np.round(x[:, j]), r.low, r.high) - r.low + 0.5) / (r.high - r.low + 1)
            elif isinstance(r, IntRange):
                lo, hi = math.log(r.low - 0.5), math.log(r.high + 0.5)
                out[:, j] = (np.log(np.clip(np.round(x[:, j]), r.low, r.high)) - lo) / (hi - lo)
            elif r.log:
                out[:, j] = (np.log(np.clip(x[:, j], r.low, r.high)) - math.log(r.low)) / (math.log(r.high) - math.log(r.low))
            else:
                out[:, j] = (np.clip(x[:, j], r.low, r.high) - r.low) / (r.high - r.low)
        return np.clip(out, 0.0, 1.0)
