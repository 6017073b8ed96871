"""Augmented Random Search, V1-t (Mania, Guy & Recht 2018, "Simple random search provides a
competitive approach to reinforcement learning"), on the raw weight vector.

Finite differences along random directions, with two of the paper's augmentations: the step is
divided by the standard deviation of the rewards used (so its size does not depend on the loss
scale), and only the top b directions, by max(r+, r−), enter the update (directions that found
nothing add only noise); ``top = directions`` is V1 without "-t". V2's state normalisation
concerns policies, not weight vectors: it is the reinforcement-learning problem's (``rl`` with
``normalize: true``, the default, updated from every state a population visits), so ``ars`` on
``rl`` with ``policy: linear`` is ARS V2-t, with ``normalize: false`` V1-t. Rewards are −loss,
since the benchmark minimises losses.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field, model_validator

from dfo_bench.optimizers.antithetic import antithetic_population
from dfo_bench.optimizers.base import AskTellOptimizer, SearchDomain
from dfo_bench.params import ParamsModel
from dfo_bench.ranges import log_float, ranges


class ARSParams(ParamsModel):
    directions: int = Field(16, ge=1)
    """N random directions per generation; each is evaluated at θ ± νδ, so popsize = 2N."""
    top: int = Field(8, ge=1)
    """b: the directions with the best max(r+, r−) that enter the update."""
    step: float = Field(0.05, gt=0)
    """α: step size, in weight units per reward standard deviation."""
    noise: float = Field(0.03, gt=0)
    """ν: standard deviation of the exploration noise, in weight units."""

    @model_validator(mode="after")
    def _top_among_directions(self) -> ARSParams:
        if self.top > self.directions:
            raise ValueError(f"top ({self.top}) cannot exceed directions ({self.directions})")
        return self


class ARS(AskTellOptimizer[torch.Tensor]):
    name = "ars"
    description = "Augmented Random Search V1-t: top-b antithetic directions, reward-std-scaled steps"
    Params = ARSParams
    tuning_ranges = ranges(step=log_float(1e-3, 0.5), noise=log_float(1e-3, 0.5))
    params: ARSParams

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: ARSParams) -> None:
        super().__init__(search, rng, params)
        self._generator = self.torch_generator()
        self._theta = self.x0.clone()
        self._deltas = torch.empty(params.directions, self.dim, device=self.device)
        """Directions δ of the last ask; refilled in place (a fresh (N, D) buffer per generation costs page faults)."""

    @property
    def popsize(self) -> int:
        return 2 * self.params.directions

    def _ask(self, n: int) -> torch.Tensor:
        return antithetic_population(self._theta, self._deltas, self.params.noise, self._generator)

    def _tell(self, X: torch.Tensor, losses: torch.Tensor) -> None:
        p = self.params
        plus, minus = -losses[: p.directions], -losses[p.directions :]
        top = torch.argsort(torch.maximum(plus, minus), descending=True, stable=True)[: p.top]
        reward_std = float(torch.cat([plus[top], minus[top]]).std(correction=0))
        if reward_std == 0:  # every reward used is equal: no direction says where to go
            return
        weights = torch.zeros(p.directions, device=self.device)
        weights[top] = ((plus[top] - minus[top]) / (p.top * reward_std)).to(torch.float32)
        self._theta.add_(weights @ self._deltas, alpha=p.step)

    def recommend(self) -> torch.Tensor:
        return self._theta.clone()
