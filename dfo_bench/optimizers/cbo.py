"""Consensus-based optimisation (Pinnau et al. 2017; anisotropic noise: Carrillo et al. 2021,
Fornasier et al. 2021), one Euler–Maruyama step of the particle dynamics per generation.

Particles drift towards a consensus point v = Σ w_i x_i / Σ w_i with Gibbs weights
w_i = exp(−α f(x_i)) — as α grows, v approaches the best particle (Laplace principle) — and
explore with noise proportional to their distance from v, so exploration fades as they agree:

    x_i ← x_i − λ dt (x_i − v) + σ √dt · noise_i

Isotropic noise ‖x_i − v‖·N(0, I) scales with √D and needs σ ≲ 1/√D; the anisotropic noise
(x_i − v) ⊙ N(0, I) acts per coordinate, so its σ does not depend on the dimension, which is
why it is the default for networks with thousands of weights.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from dfo_bench.optimizers.base import AskTellOptimizer, SearchDomain
from dfo_bench.optimizers.sampling import around
from dfo_bench.params import ParamsModel
from dfo_bench.ranges import log_float, log_int, ranges, uniform


class CBOParams(ParamsModel):
    popsize: int = Field(32, ge=2)
    """N: particles, all evaluated every generation."""
    alpha: float = Field(100.0, gt=0)
    """Inverse temperature of the consensus weights, per unit of loss; large: v near the best particle."""
    lam: float = Field(1.0, gt=0)
    """λ: drift rate towards the consensus point."""
    sigma: float = Field(1.2, ge=0)
    """Noise strength, relative to the distance from the consensus point."""
    dt: float = Field(0.5, gt=0)
    """Time step of the Euler–Maruyama discretisation."""
    noise: Literal["isotropic", "anisotropic"] = "anisotropic"
    """'isotropic': ‖x_i − v‖·N(0, I); 'anisotropic': (x_i − v) ⊙ N(0, I), per coordinate."""
    init_sigma: float = Field(0.1, gt=0)
    """Initial particles: x0 + init_sigma·N(0, I), in weight units."""


class CBO(AskTellOptimizer[torch.Tensor]):
    name = "cbo"
    description = "Consensus-based optimisation, anisotropic or isotropic noise"
    Params = CBOParams
    tuning_ranges = ranges(
        popsize=log_int(8, 128),
        alpha=log_float(1.0, 1e4),
        lam=log_float(0.1, 10.0),
        sigma=uniform(0.0, 3.0),
        dt=log_float(0.01, 1.0),
        init_sigma=log_float(1e-3, 0.5),
    )
    params: CBOParams

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: CBOParams) -> None:
        super().__init__(search, rng, params)
        self._generator = self.torch_generator()
        self._particles = around(self.x0, params.init_sigma, params.popsize, self._generator, include_x0=False)
        self._consensus = self.x0.clone()
        self._offset, self._noise = torch.empty_like(self._particles), torch.empty_like(self._particles)
        """Scratch for the update, reused: fresh (N, D) buffers every generation cost page faults."""

    @property
    def popsize(self) -> int:
        return self.params.popsize

    def _ask(self, n: int) -> torch.Tensor:
        return self._particles

    def _tell(self, X: torch.Tensor, losses: torch.Tensor) -> None:
        p = self.params
        weights = torch.softmax(-p.alpha * losses, dim=0).to(torch.float32)  # log-sum-exp inside: no overflow
        self._consensus = weights @ X
        offset = torch.sub(X, self._consensus, out=self._offset)
        noise = torch.randn(X.shape, generator=self._generator, out=self._noise)
        noise.mul_(offset if p.noise == "anisotropic" else offset.norm(dim=1, keepdim=True))
        self._particles = torch.add(X, offset, alpha=-p.lam * p.dt).add_(noise, alpha=p.sigma * math.sqrt(p.dt))

    def recommend(self) -> torch.Tensor:
        return self._consensus.clone()
