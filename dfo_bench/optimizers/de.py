"""Differential evolution (Storn & Price 1997), vectorised over the population in torch.

Strategies rand/1/bin and best/1/bin. The first generation is the initial point plus Gaussian
perturbations of it (or uniform in the bounds, or each coordinate uniform between its neighbours'
values, as the HBDE authors start); each later generation proposes one binomial crossover trial
per member, and a trial replaces its target when its loss is no worse.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from dfo_bench.optimizers.base import AskTellOptimizer, SearchDomain
from dfo_bench.optimizers.sampling import around, between_neighbours
from dfo_bench.params import Bounds, ParamsModel
from dfo_bench.ranges import choice, log_float, log_int, ranges, uniform


class DEParams(ParamsModel):
    popsize: int = Field(32, ge=4)
    F: float = Field(0.5, gt=0, le=2)
    """Differential weight."""
    CR: float = Field(0.9, ge=0, le=1)
    """Crossover probability per coordinate."""
    strategy: Literal["rand1bin", "best1bin"] = "rand1bin"
    init: Literal["around-x0", "uniform", "neighbours"] = "around-x0"
    """'around-x0': x0 + init_sigma·N(0, I); 'uniform': uniform in the bounds; 'neighbours': each
    coordinate uniform between the values of its neighbours in x0 sorted (in the blocks space: block
    b between the means of blocks b-1 and b+1, the HBDE authors' start)."""
    init_sigma: float = Field(0.02, gt=0)
    """Spread of 'around-x0' (the other inits do not use it)."""
    keep_start: bool | None = None
    """Whether x0 itself is the first member; None: the init's own rule (kept by 'around-x0' and
    'neighbours', not by 'uniform'). The other members are drawn the same either way."""
    bounds: Bounds | None = None
    """Box on every weight; None: unbounded."""
    bounds_handling: Literal["clip", "random"] = "random"
    """Out-of-bounds coordinates are clipped, or redrawn uniformly in the box (as scipy does)."""

    @model_validator(mode="after")
    def _consistent(self) -> DEParams:
        if self.init == "uniform" and self.bounds is None:
            raise ValueError("init: uniform needs bounds")
        return self


class DifferentialEvolution(AskTellOptimizer[torch.Tensor]):
    name = "de"
    description = "Differential evolution, rand/1/bin or best/1/bin, vectorised in torch"
    Params = DEParams
    tuning_ranges = ranges(
        F=uniform(0.1, 1.2),
        CR=uniform(0.0, 1.0),
        popsize=log_int(8, 128),
        strategy=choice("rand1bin", "best1bin"),
        init_sigma=log_float(1e-3, 0.5),
    )
    params: DEParams

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: DEParams) -> None:
        super().__init__(search, rng, params)
        self._generator = self.torch_generator()
        self._population = self._initial_population()
        self._fitness: torch.Tensor | None = None

    @property
    def popsize(self) -> int:
        return self.params.popsize

    def _initial_population(self) -> torch.Tensor:
        p = self.params
        if p.init == "uniform":
            assert p.bounds is not None  # the Params validator requires bounds for init: uniform
            low, high = p.bounds
            X = low + (high - low) * torch.rand((p.popsize, self.dim), generator=self._generator, device=self.device)
            if p.keep_start:
                X[0] = self.x0
            return X
        keep = p.keep_start is not False
        if p.init == "neighbours":
            return self._bounded(between_neighbours(self.x0, p.popsize, self._generator, include_x0=keep))
        return self._bounded(around(self.x0, p.init_sigma, p.popsize, self._generator, include_x0=keep))

    def _ask(self, n: int) -> torch.Tensor:
        if self._fitness is None:
            return self._population.clone()
        return self._trials(self._fitness)

    def _trials(self, fitness: torch.Tensor) -> torch.Tensor:
        p, N, X = self.params, self.params.popsize, self._population
        # Three distinct partners per member, none equal to the member itself.
        keys = torch.rand(N, N, generator=self._generator, device=self.device)
        keys.fill_diagonal_(2.0)
        r = keys.argsort(dim=1)[:, :3]
        base = X[int(torch.argmin(fitness))].expand(N, -1) if p.strategy == "best1bin" else X[r[:, 2]]
        mutant = base + p.F * (X[r[:, 0]] - X[r[:, 1]])
        cross = torch.rand(N, self.dim, generator=self._generator, device=self.device) < p.CR
        forced = torch.randint(self.dim, (N,), generator=self._generator, device=self.device)
        cross[torch.arange(N, device=self.device), forced] = True
        return self._bounded(torch.where(cross, mutant, X))

    def _bounded(self, X: torch.Tensor) -> torch.Tensor:
        if self.params.bounds is None:
            return X
        low, high = self.params.bounds
        if self.params.bounds_handling == "clip":
            return X.clamp(low, high)
        outside = (X < low) | (X > high)
        redrawn = low + (high - low) * torch.rand(X.shape, generator=self._generator, device=self.device)
        return torch.where(outside, redrawn, X)

    def _tell(self, X: torch.Tensor, losses: torch.Tensor) -> None:
        if self._fitness is None:
            self._population, self._fitness = X.clone(), losses.clone()
            return
        better = losses <= self._fitness
        self._population[better] = X[better]
        self._fitness[better] = losses[better]

    def recommend(self) -> torch.Tensor:
        if self._fitness is None:
            return self.x0.clone()
        return self._population[int(torch.argmin(self._fitness))].clone()
