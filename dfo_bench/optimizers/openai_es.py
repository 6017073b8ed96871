"""OpenAI-ES (Salimans et al. 2017, "Evolution Strategies as a Scalable Alternative to RL").

A Gaussian-smoothed gradient estimate drives a first-order optimizer: each generation draws
popsize/2 noise vectors ε and evaluates θ ± σε (antithetic sampling halves the variance of the
estimate), maps the losses to centred ranks in [-0.5, 0.5] (invariant to the loss scale and
robust to outliers), estimates g = 1/(popsize·σ) Σ F_i ε_i and steps θ with Adam
(``torch.optim.Adam``), optionally with L2 weight decay as in the paper.

With ``rank: r`` the noise is EGGROLL's instead (``dfo_bench.lowrank``): each weight matrix is
perturbed by (σ/√r)·A Bᵀ, the other weights by σε, and the same estimate is formed from the
draws, so that the effect of low-rank noise is separable from the rest of EGGROLL.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from dfo_bench.lowrank import LowRankPopulation, WeightLayout
from dfo_bench.optimizers.antithetic import antithetic_population
from dfo_bench.optimizers.base import AskTellOptimizer, SearchDomain
from dfo_bench.params import ParamsModel
from dfo_bench.ranges import choice, log_float, ranges


class OpenAIESParams(ParamsModel):
    popsize: int = Field(32, ge=2, multiple_of=2)
    """Candidates per generation: popsize/2 antithetic pairs θ ± σε."""
    sigma: float = Field(0.02, gt=0)
    """Standard deviation of the search noise, in weight units."""
    lr: float = Field(0.05, gt=0)
    """Adam learning rate: about the largest step per weight per generation, in weight units."""
    beta1: float = Field(0.9, ge=0, lt=1)
    """Adam's decay rate of the running mean of the gradient estimate."""
    beta2: float = Field(0.999, ge=0, lt=1)
    """Adam's decay rate of the running mean of its square."""
    eps: float = Field(1e-8, gt=0)
    """Adam's denominator guard."""
    weight_decay: float = Field(0.0, ge=0)
    """L2 coefficient: Adam's ``weight_decay``, adding weight_decay·θ to the descent direction (the paper used 0.005)."""
    rank: int | None = Field(None, ge=1)
    """Rank of EGGROLL's low-rank noise on each weight matrix; None: dense Gaussian noise (the paper's)."""


def centred_ranks(values: torch.Tensor) -> torch.Tensor:
    """Ranks of ``values`` mapped linearly to [-0.5, 0.5], the largest value to 0.5."""
    ranks = torch.empty_like(values)
    ranks[torch.argsort(values, stable=True)] = torch.arange(values.numel(), dtype=values.dtype, device=values.device)
    return ranks / max(values.numel() - 1, 1) - 0.5


class OpenAIES(AskTellOptimizer[torch.Tensor | LowRankPopulation]):
    name = "openai-es"
    description = "OpenAI-ES: antithetic Gaussian gradient estimate, centred ranks, Adam"
    Params = OpenAIESParams
    tuning_ranges = ranges(popsize=choice(8, 16, 32, 64, 128), sigma=log_float(1e-3, 0.5), lr=log_float(1e-3, 0.5))
    params: OpenAIESParams
    version = 2
    """2: Adam is ``torch.optim.Adam``, whose float rounding differs from version 1's hand-written Adam."""

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: OpenAIESParams) -> None:
        super().__init__(search, rng, params)
        self._generator = self.torch_generator()
        self._theta = torch.nn.Parameter(self.x0.clone(), requires_grad=False)
        """θ, on the problem's device; its ``grad`` is set to the ES estimate, never computed by autograd."""
        self._adam = torch.optim.Adam(
            [self._theta], lr=params.lr, betas=(params.beta1, params.beta2), eps=params.eps, weight_decay=params.weight_decay
        )
        self._noise = torch.empty(params.popsize // 2 if params.rank is None else 0, self.dim, device=self.device)
        """Noise ε of the last ask; refilled in place (a fresh (P/2, D) buffer per generation costs page faults)."""
        self.layout = search.layout or WeightLayout(self.dim, ())
        """The weight matrices low-rank noise perturbs (none known: Gaussian noise on every coordinate)."""
        if params.rank is not None:
            self.layout.check_rank(params.rank)
        self._pairing = LowRankPopulation.pairing(params.popsize // 2, True, self.device)

    @classmethod
    def low_rank_of(cls, params: ParamsModel) -> int | None:
        return params.rank if isinstance(params, OpenAIESParams) else None

    @property
    def popsize(self) -> int:
        return self.params.popsize

    def _ask(self, n: int) -> torch.Tensor | LowRankPopulation:
        p = self.params
        if p.rank is not None:
            centre = self._theta.detach().clone()
            return LowRankPopulation.sample(
                centre, self.layout, p.rank, p.sigma, p.popsize // 2, True, self._generator, self._pairing
            )
        return antithetic_population(self._theta, self._noise, p.sigma, self._generator)

    def _tell(self, X: torch.Tensor | LowRankPopulation, losses: torch.Tensor) -> None:
        p, half = self.params, self._noise.shape[0]
        fitness = centred_ranks(-losses).to(torch.float32)  # reward = -loss
        if isinstance(X, LowRankPopulation):  # its members' perturbations are σ times the noise
            ascent = X.combine(fitness) / (p.popsize * p.sigma**2)
        else:
            ascent = (fitness[:half] - fitness[half:]) @ self._noise / (p.popsize * p.sigma)
        self._theta.grad = -ascent  # Adam descends; its weight_decay adds weight_decay·θ
        self._adam.step()

    def recommend(self) -> torch.Tensor:
        return self._theta.detach().clone()
