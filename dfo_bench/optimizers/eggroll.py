"""EGGROLL (Sarkar et al. 2025, "Evolution Strategies at the Hyperscale", arXiv 2511.16652).

An evolution strategy whose members perturb each weight matrix by a low-rank matrix
E_i = sign_i·(σ/√r)·A_i B_iᵀ and every other weight by sign_i·σ·ε_i (``dfo_bench.lowrank``), so
that a problem with a low-rank path evaluates the population without building its members. The
fitnesses (−loss) are z-scored as in the authors' code (or mapped to centred ranks), and the
estimate g = (1/N)·Σ f̂_i E_i — high-rank, a sum of N rank-r matrices — is applied by
``torch.optim`` (SGD by default, Adam as an option) as the descent direction −g. SGD, which keeps
no state without momentum, is called as torch.optim's functional ``sgd``: the arithmetic of
``SGD.step()`` without its hooks, profiler record and grad-mode switch, which with a float64 copy
of the losses cost 74–100 of the 304–343 µs that tell took at P = 64 in the runner's loop
(docs/lowrank.md).

As in the authors' ``noiser/eggroll.py``, a noise draw may serve ``noise_reuse`` generations
in a row around the moving centre (0: one draw for the whole run); antithetic pairs share a draw.
Without declared matrices (a hand-built search on a test function; suites refuse that pairing)
every coordinate gets ordinary Gaussian noise.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from torch.optim.sgd import sgd

from dfo_bench.lowrank import LowRankPopulation, WeightLayout
from dfo_bench.optimizers.base import AskTellOptimizer, SearchDomain
from dfo_bench.optimizers.openai_es import centred_ranks
from dfo_bench.params import ParamsModel
from dfo_bench.ranges import choice, log_float, ranges


class EggrollParams(ParamsModel):
    popsize: int = Field(32, ge=2)
    """Members per generation N: N/2 antithetic pairs, or N independent draws."""
    rank: int = Field(1, ge=1)
    """Rank r of each member's perturbation of each weight matrix (at most the smallest side of any matrix)."""
    sigma: float = Field(0.02, gt=0)
    """Standard deviation of every perturbed weight, in weight units."""
    lr: float = Field(5.0, gt=0)
    """Learning rate of the step along g = (1/N)·Σ f̂_i E_i (whose entries are about σ/√N)."""
    antithetic: bool = True
    """Pairs of members θ ± E from one draw."""
    shaping: Literal["z-score", "centred-ranks"] = "z-score"
    """Fitness shaping: (f − mean)/std as the authors, or ranks mapped to [−0.5, 0.5]."""
    optimizer: Literal["sgd", "adam"] = "sgd"
    """Plain steps θ ← θ + lr·g (``torch.optim.SGD``'s arithmetic) or ``torch.optim.Adam`` (per-weight step sizes about lr)."""
    noise_reuse: int = Field(1, ge=0)
    """Generations each noise draw serves; 0: one draw for the whole run."""

    @model_validator(mode="after")
    def _pairs(self) -> EggrollParams:
        if self.antithetic and self.popsize % 2:
            raise ValueError(f"popsize must be even with antithetic pairs, got {self.popsize}")
        return self


def shaped(losses: torch.Tensor, shaping: str) -> torch.Tensor:
    """Fitness −loss shaped to zero mean: z-scores (zeros when all are equal) or centred ranks."""
    fitness = -losses.to(torch.float32)
    if shaping == "centred-ranks":
        return centred_ranks(fitness)
    std = fitness.std(unbiased=False)
    return (fitness - fitness.mean()) / std if float(std) > 0 else torch.zeros_like(fitness)


class Eggroll(AskTellOptimizer[LowRankPopulation]):
    name = "eggroll"
    description = "EGGROLL: low-rank antithetic ES, z-scored fitness, high-rank update through torch.optim"
    Params = EggrollParams
    tuning_ranges = ranges(popsize=choice(16, 32, 64, 128, 256), sigma=log_float(1e-3, 0.2), lr=log_float(0.01, 20.0))
    params: EggrollParams
    tell_dtype = None  # ``shaped`` reads the losses as float32: no float64 copy on the way

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: EggrollParams) -> None:
        super().__init__(search, rng, params)
        self.layout = search.layout or WeightLayout(self.dim, ())
        self.layout.check_rank(params.rank)
        self._generator = self.torch_generator()
        self._theta = self.x0.clone()
        """θ, on the problem's device; with Adam its ``grad`` is set to −g, never computed by autograd."""
        # foreach=False on the CPU, where torch picks it anyway: deciding it each step cost about
        # 20 of torch.optim.SGD.step()'s 200 microseconds in the runner's loop (2026-12-05).
        self._foreach = None if self.device.type == "cuda" else False
        self._adam = torch.optim.Adam([self._theta], lr=params.lr, foreach=self._foreach) if params.optimizer == "adam" else None
        self._draws = params.popsize // 2 if params.antithetic else params.popsize
        self._pairing = LowRankPopulation.pairing(self._draws, params.antithetic, self.device)
        self._last: LowRankPopulation | None = None
        self._generation = 0

    @classmethod
    def low_rank_of(cls, params: ParamsModel) -> int | None:
        return params.rank if isinstance(params, EggrollParams) else None

    @property
    def popsize(self) -> int:
        return self.params.popsize

    def _ask(self, n: int) -> LowRankPopulation:
        p, last = self.params, self._last
        fresh = last is None or (p.noise_reuse > 0 and self._generation % p.noise_reuse == 0)
        centre = self._theta.clone()
        if fresh or last is None:
            return LowRankPopulation.sample(
                centre, self.layout, p.rank, p.sigma, self._draws, p.antithetic, self._generator, self._pairing
            )
        return LowRankPopulation.members_of(centre, self.layout, last.A, last.B, last.vector, p.sigma, self._pairing)

    def _tell(self, X: LowRankPopulation, losses: torch.Tensor) -> None:
        self._last = X
        self._generation += 1
        # −g divided in place: −(Σ)/N and Σ/(−N) round alike, one tensor fewer.
        descent = X.combine(shaped(losses, self.params.shaping)).div_(-len(X))
        if self._adam is None:
            sgd(
                [self._theta],
                [descent],
                [None],
                foreach=self._foreach,
                weight_decay=0.0,
                momentum=0.0,
                lr=self.params.lr,
                dampening=0.0,
                nesterov=False,
                maximize=False,
            )
        else:
            self._theta.grad = descent
            self._adam.step()

    def recommend(self) -> torch.Tensor:
        return self._theta.clone()
