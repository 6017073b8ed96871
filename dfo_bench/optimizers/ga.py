"""A simple genetic algorithm in the style of Deep-GA (Such et al. 2017, "Deep Neuroevolution").

Such et al. showed that a GA with nothing but truncation selection, Gaussian mutation and
elitism trains networks with millions of weights competitively with evolution strategies. Each
generation keeps the top ``truncation`` individuals as parents; every child is a uniformly chosen
parent plus sigma·N(0, I) (optionally after uniform crossover with a second parent), and the best
``elites`` individuals are carried over unchanged. The elites are evaluated again with the next
generation rather than trusted on an old loss, so selection stays honest when losses are noisy
(minibatch or super-batch evaluation).
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field, model_validator

from dfo_bench.optimizers.base import AskTellOptimizer, SearchDomain
from dfo_bench.optimizers.sampling import around
from dfo_bench.params import ParamsModel
from dfo_bench.ranges import log_float, log_int, ranges, uniform


class GAParams(ParamsModel):
    popsize: int = Field(32, ge=2)
    """Individuals per generation, elites included."""
    truncation: int = Field(4, ge=1)
    """Parents: the best ``truncation`` individuals of a generation."""
    sigma: float = Field(0.05, gt=0)
    """Standard deviation of the Gaussian mutation, in weight units."""
    elites: int = Field(1, ge=0)
    """Best individuals carried over unchanged (and evaluated again) into the next generation."""
    crossover: float = Field(0.0, ge=0, le=1)
    """Probability that a child is a uniform crossover of two parents before mutation; 0: mutation only."""
    init_sigma: float = Field(0.02, gt=0)
    """First generation: x0 and x0 + init_sigma·N(0, I), in weight units."""

    @model_validator(mode="after")
    def _fits_population(self) -> GAParams:
        if self.truncation > self.popsize:
            raise ValueError(f"truncation ({self.truncation}) cannot exceed popsize ({self.popsize})")
        if self.elites >= self.popsize:
            raise ValueError(f"elites ({self.elites}) must leave room for children in popsize ({self.popsize})")
        if self.elites > self.truncation:
            raise ValueError(f"elites ({self.elites}) are among the parents: at most truncation ({self.truncation})")
        return self


class GeneticAlgorithm(AskTellOptimizer[torch.Tensor]):
    name = "ga"
    description = "Deep-GA: truncation selection, Gaussian mutation, elitism, optional uniform crossover"
    Params = GAParams
    tuning_ranges = ranges(
        popsize=log_int(8, 128),
        sigma=log_float(1e-3, 0.5),
        crossover=uniform(0.0, 1.0),
        init_sigma=log_float(1e-3, 0.5),
    )
    params: GAParams

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: GAParams) -> None:
        super().__init__(search, rng, params)
        self._generator = self.torch_generator()
        self._parents: torch.Tensor | None = None
        """(truncation, D), best first; None before the first tell."""

    @property
    def popsize(self) -> int:
        return self.params.popsize

    def _ask(self, n: int) -> torch.Tensor:
        if self._parents is None:
            return around(self.x0, self.params.init_sigma, n, self._generator)
        return self._next_generation(self._parents, n)

    def _next_generation(self, parents: torch.Tensor, n: int) -> torch.Tensor:
        p, g = self.params, self._generator
        X = torch.empty(n, self.dim, device=self.device)
        X[: p.elites] = parents[: p.elites]
        children = X[p.elites :]
        torch.randn(children.shape, generator=g, out=children).mul_(p.sigma)
        # Each child's parent is uniform; children are exchangeable, so draw how many children each
        # parent gets and add the parents block by block (no gathered (n, D) copy of parents).
        picks = torch.randint(len(parents), (len(children),), generator=g, device=self.device)
        counts = torch.bincount(picks, minlength=len(parents))
        for parent, block in zip(parents, children.split(counts.tolist()), strict=True):
            block.add_(parent)
        if p.crossover > 0:
            self._cross(parents, children, torch.arange(len(parents), device=self.device).repeat_interleave(counts))
        return X

    def _cross(self, parents: torch.Tensor, children: torch.Tensor, first: torch.Tensor) -> None:
        """Uniform crossover, in place: a crossing child takes each weight from a second parent with probability 1/2."""
        g = self._generator
        crossing = (torch.rand(len(children), generator=g, device=self.device) < self.params.crossover).nonzero().squeeze(1)
        mates = torch.randint(len(parents), (len(crossing),), generator=g, device=self.device)
        from_mate = torch.rand(len(crossing), self.dim, generator=g, device=self.device) < 0.5
        children[crossing] += torch.where(from_mate, parents[mates] - parents[first[crossing]], 0.0)

    def _tell(self, X: torch.Tensor, losses: torch.Tensor) -> None:
        order = torch.argsort(losses, stable=True)
        self._parents = X[order[: self.params.truncation]]

    def recommend(self) -> torch.Tensor:
        if self._parents is None:
            return self.x0.clone()
        return self._parents[0].clone()
