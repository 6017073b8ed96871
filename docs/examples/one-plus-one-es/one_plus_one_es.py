"""A (1+1) evolution strategy with the 1/5th success rule (Rechenberg 1973; Auger & Hansen's
one-fifth rule as in Kern et al. 2004, "Learning probability distributions in continuous
evolutionary algorithms"), as a dfo-bench optimizer.

Each generation asks one child ``parent + sigma * N(0, I)``; a child at least as good as the
parent replaces it and multiplies sigma by ``exp(1/3)``, a worse one multiplies it by
``exp(-1/12)``: sigma is stable when one child in five succeeds.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from pydantic import Field

from dfo_bench.optimizers.base import AskTellOptimizer, SearchDomain
from dfo_bench.params import ParamsModel


class OnePlusOneParams(ParamsModel):
    """Hyper-parameters: validated when a suite is read, so a typo is refused before anything runs."""

    sigma0: float = Field(0.02, gt=0, description="initial step size, in weight units")
    success_rate: float = Field(0.2, gt=0, lt=1, description="the success rate that keeps sigma constant")


class OnePlusOneES(AskTellOptimizer[torch.Tensor]):
    name = "one-plus-one-es"
    description = "(1+1) evolution strategy with the 1/5th success rule (docs example plugin)"
    Params = OnePlusOneParams
    params: OnePlusOneParams

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: OnePlusOneParams) -> None:
        super().__init__(search, rng, params)
        self.parent = self.x0.clone()
        self.parent_loss = math.inf
        self.sigma = params.sigma0
        self.generator = self.torch_generator()  # seeded from the run's generator: same seed, same run

    @property
    def popsize(self) -> int:
        return 1

    def _ask(self, n: int) -> torch.Tensor:
        noise = torch.randn(n, self.dim, generator=self.generator, device=self.device)
        return self.parent + self.sigma * noise

    def _tell(self, X: torch.Tensor, losses: torch.Tensor) -> None:
        loss = float(losses[0])  # one number per generation: no population crosses to the host
        if loss <= self.parent_loss:
            self.parent, self.parent_loss = X[0].clone(), loss
            self.sigma *= math.exp(1 / 3)
        else:
            self.sigma *= math.exp(-1 / 3 * self.params.success_rate / (1 - self.params.success_rate))

    def recommend(self) -> torch.Tensor:
        return self.parent.clone()
