"""Typed (mixed) search spaces: integers, floats (optionally log-scaled) and categorical choices.

A problem that searches hyper-parameters instead of weights declares a ``TypedSpace``. So that
the objective, the loop, the budget and the store stay as they are, a candidate is still a row
of a float32 tensor: its *encoding*, one coordinate per parameter (an integer as its value, a
float as its value, a choice as its index). ``decode`` turns a row into the configuration a
problem trains (rounding and clipping whatever an optimizer proposes into the space), ``encode``
does the reverse. Floats are float32 in the encoding, so a decoded float is the float32 value
that was trained and recorded.

Continuous box optimizers search a typed space through the unit box: ``from_unit`` maps
u ∈ [0, 1]^d to encoded rows, every integer and every choice getting an equal share of [0, 1]
(a log-scaled parameter is uniform in its logarithm), and ``to_unit`` maps rows back to the
centres of those shares.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

Value = int | float | str
"""A decoded parameter value."""


@dataclass(frozen=True)
class IntParam:
    """An integer in [low, high], both included."""

    name: str
    low: int
    high: int
    log: bool = False


@dataclass(frozen=True)
class FloatParam:
    """A float in [low, high]; ``log``: searched uniformly in its logarithm (low > 0)."""

    name: str
    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class ChoiceParam:
    """One of ``choices`` (strings), encoded as its index."""

    name: str
    choices: tuple[str, ...]


Param = IntParam | FloatParam | ChoiceParam


class TypedSpace:
    """An ordered list of typed parameters; see the module docstring for the encoding."""

    def __init__(self, params: Sequence[Param], default: Mapping[str, Value]) -> None:
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise ValueError(f"parameter names repeat: {names}")
        for p in params:
            if isinstance(p, (IntParam, FloatParam)) and not p.low <= p.high:
                raise ValueError(f"{p.name}: low {p.low} above high {p.high}")
            if isinstance(p, (IntParam, FloatParam)) and p.log and p.low <= 0:
                raise ValueError(f"{p.name}: a log scale needs low > 0")
            if isinstance(p, ChoiceParam) and not p.choices:
                raise ValueError(f"{p.name}: no choices")
        self.params = tuple(params)
        self.names = tuple(names)
        self.default = self.decode(self.encode(default))
        """The configuration a run starts from (the problem's recommendation before any evaluation)."""

    @property
    def dim(self) -> int:
        return len(self.params)

    def __getitem__(self, name: str) -> Param:
        return self.params[self.names.index(name)]

    # --- encoded rows <-> configurations -----------------------------------------------------------

    def decode(self, row: torch.Tensor | np.ndarray | Sequence[float]) -> dict[str, Value]:
        """The configuration of one encoded row; values outside the space are rounded and clipped into it."""
        values = np.asarray(row.detach().cpu() if isinstance(row, torch.Tensor) else row, dtype=np.float64).reshape(-1)
        if values.shape != (self.dim,):
            raise ValueError(f"expected an encoded row of {self.dim} values, got shape {values.shape}")
        config: dict[str, Value] = {}
        for p, v in zip(self.params, values, strict=True):
            if not math.isfinite(v):
                raise ValueError(f"{p.name}: not a finite value ({v})")
            if isinstance(p, IntParam):
                config[p.name] = int(min(max(round(v), p.low), p.high))
            elif isinstance(p, FloatParam):
                config[p.name] = float(np.float32(min(max(v, p.low), p.high)))
            else:
                config[p.name] = p.choices[int(min(max(round(v), 0), len(p.choices) - 1))]
        return config

    def encode(self, config: Mapping[str, Value]) -> torch.Tensor:
        """The encoded row (dim,), float32, of a configuration naming every parameter."""
        missing = [n for n in self.names if n not in config]
        unknown = [n for n in config if n not in self.names]
        if missing or unknown:
            raise ValueError(f"configuration: missing {missing}, unknown {unknown}; parameters: {list(self.names)}")
        row = []
        for p in self.params:
            v = config[p.name]
            if isinstance(p, ChoiceParam):
                if v not in p.choices:
                    raise ValueError(f"{p.name}: {v!r} is not one of {list(p.choices)}")
                row.append(float(p.choices.index(str(v))))
            else:
                if isinstance(v, str) or not p.low <= v <= p.high:
                    raise ValueError(f"{p.name}: {v!r} is not in [{p.low}, {p.high}]")
                if isinstance(p, IntParam) and v != int(v):
                    raise ValueError(f"{p.name}: {v!r} is not an integer")
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
        for j, p in enumerate(self.params):
            if isinstance(p, ChoiceParam):
                out[:, j] = np.minimum(np.floor(u[:, j] * len(p.choices)), len(p.choices) - 1)
            elif isinstance(p, IntParam) and not p.log:
                out[:, j] = np.minimum(p.low + np.floor(u[:, j] * (p.high - p.low + 1)), p.high)
            elif isinstance(p, IntParam):  # log-uniform over [low - 1/2, high + 1/2], rounded
                lo, hi = math.log(p.low - 0.5) if p.low > 0.5 else math.log(p.low), math.log(p.high + 0.5)
                out[:, j] = np.clip(np.round(np.exp(lo + u[:, j] * (hi - lo))), p.low, p.high)
            elif p.log:
                out[:, j] = np.exp(math.log(p.low) + u[:, j] * (math.log(p.high) - math.log(p.low)))
            else:
                out[:, j] = p.low + u[:, j] * (p.high - p.low)
        return torch.from_numpy(out.astype(np.float32))

    def to_unit(self, X: torch.Tensor | np.ndarray) -> np.ndarray:
        """Unit-box points (n, dim), float64, of encoded rows: ``from_unit(to_unit(X))`` gives X back
        (after rounding into the space)."""
        x = np.asarray(X.detach().cpu() if isinstance(X, torch.Tensor) else X, dtype=np.float64)
        out = np.empty_like(x)
        for j, p in enumerate(self.params):
            if isinstance(p, ChoiceParam):
                out[:, j] = (np.clip(np.round(x[:, j]), 0, len(p.choices) - 1) + 0.5) / len(p.choices)
            elif isinstance(p, IntParam) and not p.log:
                out[:, j] = (np.clip(np.round(x[:, j]), p.low, p.high) - p.low + 0.5) / (p.high - p.low + 1)
            elif isinstance(p, IntParam):
                lo, hi = math.log(p.low - 0.5) if p.low > 0.5 else math.log(p.low), math.log(p.high + 0.5)
                out[:, j] = (np.log(np.clip(np.round(x[:, j]), p.low, p.high)) - lo) / (hi - lo)
            elif p.log:
                out[:, j] = (np.log(np.clip(x[:, j], p.low, p.high)) - math.log(p.low)) / (math.log(p.high) - math.log(p.low))
            else:
                out[:, j] = (np.clip(x[:, j], p.low, p.high) - p.low) / (p.high - p.low) if p.high > p.low else 0.5
        return np.clip(out, 0.0, 1.0)
