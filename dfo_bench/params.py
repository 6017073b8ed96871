"""Hyper-parameters are frozen pydantic models: validated once, unknown names rejected."""

from pydantic import BaseModel, ConfigDict


class ParamsModel(BaseModel):
    """Base of every problem's and optimizer's parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)
