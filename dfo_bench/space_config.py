"""A suite's ``space:`` field, typed: which search space an optimizer runs in (``dfo_bench.spaces``
builds it). Apart from the spaces themselves so that run specs, and the stored runs that carry
them, are read without importing torch (``dfo-bench status`` on a results folder).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class FullSpaceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["full"] = "full"


class BlockSpaceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["blocks"]
    n_bins: int = Field(10_000, ge=1, le=100_000_000)
    """Equal-width bins over the initial weights' range; empty ones are dropped."""


SpaceConfig = Annotated[FullSpaceConfig | BlockSpaceConfig, Field(discriminator="kind")]
