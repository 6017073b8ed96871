"""Hyper-parameters are frozen pydantic models: validated once, unknown names rejected.

Also the few constrained types that several parameter classes share (finite numbers, bounds),
so each rule is written once.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value}")
    return value


def _ordered(bounds: tuple[float, float]) -> tuple[float, float]:
    low, high = bounds
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise ValueError(f"bounds must be finite (low, high) with low < high, got {bounds}")
    return bounds


Finite = Annotated[float, AfterValidator(_finite)]
"""A float that is neither infinite nor NaN."""

Bounds = Annotated[tuple[float, float], AfterValidator(_ordered)]
"""A box (low, high) on every coordinate, low < high, both finite."""


class ParamsModel(BaseModel):
    """Base of every problem's and optimizer's parameters.

    Floats are finite unless a class says otherwise (``allow_inf_nan``): an infinite step size or
    NaN learning rate is a typo, not a setting.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    locations: ClassVar[tuple[str, ...]] = ()
    """Fields that say where data are, not what they are: left out of run labels and identities,
    which carry ``data_fingerprint()`` instead."""

    def data_fingerprint(self) -> str | None:
        """A digest of the content of the data these parameters point to; None: no data files."""
        return None

    def identity(self) -> dict[str, Any]:
        """What of these parameters determines a result: the values that differ from the defaults.

        A parameter added later with a default that reproduces the old behaviour therefore leaves
        the identity (and the stored results) unchanged; a class's ``version`` is bumped instead
        when a default or the behaviour changes. Classes whose parameters name a data location
        replace it with a fingerprint of the data's content.
        """
        given = {k: v for k, v in self.model_dump(mode="json", exclude_defaults=True).items() if k not in self.locations}
        data = self.data_fingerprint()
        return given if data is None else given | {"data": data}
