"""The common part of optimizers that search typed domains only (hyper-parameter configurations).

They ask encoded configurations (rows of ``TypedDomain.dim`` floats, see ``dfo_bench.domain``)
and recommend the best configuration evaluated so far (the domain's default before any), so a
checkpoint measures a configuration that was actually trained.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dfo_bench.domain import TypedDomain
from dfo_bench.optimizers.base import AskTellOptimizer, SearchDomain
from dfo_bench.params import ParamsModel


class TypedOptimizer(AskTellOptimizer[torch.Tensor]):
    """An ask/tell optimizer over a ``TypedDomain``; subclasses implement ``_ask`` and ``_tell``."""

    search_kinds = frozenset({"typed"})

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: ParamsModel) -> None:
        super().__init__(search, rng, params)
        assert search.typed is not None  # the base refuses a domain of a kind not in search_kinds
        self.domain: TypedDomain = search.typed
        self._best = self.x0.clone()
        self._best_loss = math.inf

    def tell(self, X: torch.Tensor, losses: torch.Tensor) -> None:
        super().tell(X, losses)
        first = losses if losses.ndim == 1 else losses[:, 0]  # several objectives: the first (a validation loss)
        best = int(torch.argmin(first))
        if float(first[best]) < self._best_loss:
            self._best, self._best_loss = X[best].clone(), float(first[best])

    def recommend(self) -> torch.Tensor:
        return self._best.clone()

    def _encoded(self, configs: list[dict[str, int | float | str]]) -> torch.Tensor:
        """Configurations as encoded rows on the optimizer's device."""
        return torch.stack([self.domain.encode(c) for c in configs]).to(self.device)
