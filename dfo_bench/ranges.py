"""Ranges of values: an integer or float interval (uniform or log-uniform) or a list of choices.

One vocabulary for two users: the ranges a tuning study samples of an optimizer's ``Params``
(each optimizer declares ``tuning_ranges`` next to its ``Params``; a suite's ``tune:`` may replace
them), and the parameters of a typed problem's domain (``dfo_bench.domain``). A mapping of
parameter names to ranges (``Ranges``) keeps its order: a domain encodes its parameters in it.
Ranges are pydantic models, so a suite's ``tune:`` entry is validated into one directly
(``parse_range``); Optuna sees them through ``dfo_bench.optuna_study``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, TypeAdapter, model_validator


class _Range(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FloatRange(_Range):
    """A float in [low, high], uniform or log-uniform (``log``: low > 0)."""

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

    def contains(self, value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool) and self.low <= value <= self.high

    def extremes(self) -> list[Any]:
        return [self.low, self.high]


class IntRange(_Range):
    """An integer in [low, high], both included, uniform or log-uniform (``log``: low >= 1)."""

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

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high

    def extremes(self) -> list[Any]:
        return [self.low, self.high]


Choice = StrictBool | StrictInt | StrictFloat | StrictStr
"""A value a ``ChoiceRange`` may list."""


class ChoiceRange(_Range):
    """One of a list of distinct values (strings, numbers, booleans); ``kind: categorical`` in YAML."""

    kind: Literal["categorical"] = "categorical"
    choices: list[Choice] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> ChoiceRange:
        if len({repr(c) for c in self.choices}) != len(self.choices):
            raise ValueError(f"choices must be distinct, got {self.choices}")
        return self

    def index(self, value: Any) -> int | None:
        """The position of ``value`` among the choices (same type and value), None when absent."""
        return next((i for i, c in enumerate(self.choices) if type(value) is type(c) and value == c), None)

    def contains(self, value: Any) -> bool:
        return self.index(value) is not None

    def extremes(self) -> list[Any]:
        return list(self.choices)


Range = FloatRange | IntRange | ChoiceRange
Ranges = Mapping[str, Range]
"""Parameter name → range, in order."""

_PARSER: TypeAdapter[Range] = TypeAdapter(Annotated[Range, Field(discriminator="kind")])


def parse_range(data: Any) -> Range:
    """The range a mapping with a ``kind`` (float, int, categorical) describes; pydantic's
    ``ValidationError`` when it describes none."""
    return _PARSER.validate_python(data)


def uniform(low: float, high: float) -> FloatRange:
    return FloatRange(low=low, high=high)


def log_float(low: float, high: float) -> FloatRange:
    return FloatRange(low=low, high=high, log=True)


def integers(low: int, high: int) -> IntRange:
    return IntRange(low=low, high=high)


def log_int(low: int, high: int) -> IntRange:
    return IntRange(low=low, high=high, log=True)


def choice(*values: Any) -> ChoiceRange:
    return ChoiceRange(choices=list(values))


def ranges(**named: Range) -> Ranges:
    """Read-only ranges, in the order given (what optimizers declare as ``tuning_ranges``)."""
    return MappingProxyType(dict(named))


def ranges_json(named: Ranges) -> dict[str, dict[str, Any]]:
    """The ranges as plain JSON, by name (what the study record and the report show)."""
    return {name: r.model_dump(mode="json") for name, r in sorted(named.items())}


def describe(named: Ranges) -> str:
    """``lr∈[1e-05, 0.1] log, strategy∈{rand1bin, best1bin}``: one line for people."""

    def one(name: str, r: Range) -> str:
        if isinstance(r, ChoiceRange):
            return f"{name}∈{{{', '.join(str(c) for c in r.choices)}}}"
        return f"{name}∈[{r.low:g}, {r.high:g}]" + (" log" if r.log else "")

    return ", ".join(one(name, r) for name, r in sorted(named.items()))
