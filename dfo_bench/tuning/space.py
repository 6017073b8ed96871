"""Search-space ranges: what a tuning study may change of an optimizer's ``Params``.

Each optimizer declares ``search_space`` (parameter name → range) next to its ``Params``; a suite
may replace ranges per entry. A range becomes an Optuna distribution only when a study starts
(Optuna is imported there, not when an optimizer module is).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, model_validator

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution


class _Range(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FloatRange(_Range):
    """A float in [low, high], uniform or log-uniform."""

    kind: Literal["float"] = "float"
    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> FloatRange:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0, got {self.low}")
        return self

    def distribution(self) -> BaseDistribution:
        from optuna.distributions import FloatDistribution

        return FloatDistribution(self.low, self.high, log=self.log)

    def contains(self, value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool) and self.low <= value <= self.high

    def extremes(self) -> list[Any]:
        return [self.low, self.high]


class IntRange(_Range):
    """An integer in [low, high], uniform or log-uniform."""

    kind: Literal["int"] = "int"
    low: int
    high: int
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low < 1:
            raise ValueError(f"a log range needs low >= 1, got {self.low}")
        return self

    def distribution(self) -> BaseDistribution:
        from optuna.distributions import IntDistribution

        return IntDistribution(self.low, self.high, log=self.log)

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high

    def extremes(self) -> list[Any]:
        return [self.low, self.high]


Choice = StrictBool | StrictInt | StrictFloat | StrictStr


class Categorical(_Range):
    """One of a list of values (strings, numbers, booleans)."""

    kind: Literal["categorical"] = "categorical"
    choices: list[Choice] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> Categorical:
        if len({repr(c) for c in self.choices}) != len(self.choices):
            raise ValueError(f"choices must be distinct, got {self.choices}")
        return self

    def distribution(self) -> BaseDistribution:
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(self.choices)

    def contains(self, value: Any) -> bool:
        return any(type(value) is type(c) and value == c for c in self.choices)

    def extremes(self) -> list[Any]:
        return list(self.choices)


Range = Annotated[FloatRange | IntRange | Categorical, Field(discriminator="kind")]
SearchSpace = Mapping[str, FloatRange | IntRange | Categorical]
"""Parameter name → range: what a study samples; every other parameter keeps the entry's value."""


def log_float(low: float, high: float) -> FloatRange:
    return FloatRange(low=low, high=high, log=True)


def uniform(low: float, high: float) -> FloatRange:
    return FloatRange(low=low, high=high)


def log_int(low: int, high: int) -> IntRange:
    return IntRange(low=low, high=high, log=True)


def choice(*values: Any) -> Categorical:
    return Categorical(choices=list(values))


def space_json(space: SearchSpace) -> dict[str, dict[str, Any]]:
    """The space as plain JSON (what the study record and the report show)."""
    return {name: r.model_dump(mode="json") for name, r in sorted(space.items())}


def describe(space: SearchSpace) -> str:
    """``lr∈[1e-05, 0.1] log, strategy∈{rand1bin, best1bin}``: one line for people."""

    def one(name: str, r: FloatRange | IntRange | Categorical) -> str:
        if isinstance(r, Categorical):
            return f"{name}∈{{{', '.join(str(c) for c in r.choices)}}}"
        return f"{name}∈[{r.low:g}, {r.high:g}]" + (" log" if r.log else "")

    return ", ".join(one(name, r) for name, r in sorted(space.items()))


def space(**ranges: FloatRange | IntRange | Categorical) -> SearchSpace:
    """A read-only search space (what optimizers declare as ``search_space``)."""
    return MappingProxyType(dict(ranges))
