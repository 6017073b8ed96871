"""Adam (Kingma & Ba 2015) through ``torch.optim.Adam``: the gradient baseline.

Each step is one minibatch loss and gradient from the objective, charged 1 evaluation and
3·batch_size forward-equivalent samples, so it competes on the same budget as the
gradient-free methods.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from dfo_bench.optimizers.base import GradientFn, GradientOptimizer, SearchDomain
from dfo_bench.params import ParamsModel
from dfo_bench.ranges import log_float, log_int, ranges


class AdamParams(ParamsModel):
    lr: float = Field(1e-3, gt=0)
    batch_size: int = Field(64, ge=1)
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)


class Adam(GradientOptimizer):
    name = "adam"
    description = "torch.optim.Adam on minibatches of the training set (gradient baseline)"
    Params = AdamParams
    tuning_ranges = ranges(lr=log_float(1e-5, 1e-1), batch_size=log_int(16, 512))
    params: AdamParams

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: AdamParams) -> None:
        super().__init__(search, rng, params)
        self._x = torch.nn.Parameter(self.x0.clone())
        self._adam = torch.optim.Adam(
            [self._x], lr=params.lr, betas=(params.beta1, params.beta2), weight_decay=params.weight_decay
        )

    @classmethod
    def batch_size_of(cls, params: ParamsModel) -> int | None:
        return params.batch_size if isinstance(params, AdamParams) else None

    def _step(self, loss_and_grad: GradientFn) -> float:
        loss, grad = loss_and_grad(self._x.detach(), self.params.batch_size)
        self._x.grad = grad
        self._adam.step()
        return loss

    def recommend(self) -> torch.Tensor:
        return self._x.detach().clone()
