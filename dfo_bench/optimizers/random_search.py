"""(1+λ) Gaussian random search: the simplest honest baseline around the initial weights.

Each generation samples λ candidates from N(center, sigma²I); the center moves to the best
candidate if it improves on the center's loss. (Rastrigin-style pure random search over a box is
hopeless in thousands of weights, so the baseline is local.)

On a typed domain (hyper-parameters, see ``dfo_bench.domain``) it is pure random search
(Bergstra & Bengio 2012): every candidate is drawn uniformly from the domain (log-uniformly where a
parameter is log-scaled), and the center is the best configuration so far; ``sigma`` is unused.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from pydantic import Field

from dfo_bench.optimizers.base import AskTellOptimizer, SearchDomain
from dfo_bench.optimizers.sampling import around
from dfo_bench.params import ParamsModel
from dfo_bench.ranges import log_float, log_int, ranges


class RandomSearchParams(ParamsModel):
    popsize: int = Field(32, ge=1)
    sigma: float = Field(0.02, gt=0)
    """Standard deviation of the Gaussian perturbations, in weight units."""


class RandomSearch(AskTellOptimizer[torch.Tensor]):
    name = "random-search"
    description = "(1+lambda) Gaussian random search around the best point so far"
    Params = RandomSearchParams
    tuning_ranges = ranges(popsize=log_int(4, 128), sigma=log_float(1e-4, 0.5))
    params: RandomSearchParams
    search_kinds = frozenset({"weights", "typed"})

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: RandomSearchParams) -> None:
        super().__init__(search, rng, params)
        self.domain = search.typed
        self._generator = self.torch_generator()
        self._center = self.x0.clone()
        self._center_loss = math.inf
        self._first = True

    @property
    def popsize(self) -> int:
        return self.params.popsize

    def _ask(self, n: int) -> torch.Tensor:
        if self.domain is not None:
            return self.domain.sample(n, self.rng).to(self.device)
        # The first generation includes the initial point itself, so the search never ends worse.
        return around(self._center, self.params.sigma, n, self._generator, include_x0=self._first)

    def _tell(self, X: torch.Tensor, losses: torch.Tensor) -> None:
        self._first = False
        best = int(torch.argmin(losses))
        if float(losses[best]) <= self._center_loss:
            self._center = X[best].clone()
            self._center_loss = float(losses[best])

    def recommend(self) -> torch.Tensor:
        return self._center.clone()
