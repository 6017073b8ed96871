"""NSGA-II (Deb, Pratap, Agarwal & Meyarivan 2002), pymoo's implementation through its ask-and-tell interface.

Non-dominated sorting with crowding distance, SBX crossover and polynomial mutation, on a box
(``optimizers.box``: its own ``bounds``, the problem's box, else x0 ± ``radius`` around network
weights). The first population is a Latin hypercube of the box when the box is given (a test
problem, a hyper-parameter space) and x0 plus ``init_sigma``·N(0, I) otherwise (weights, as the
single-objective ``pymoo`` adapter does), x0 itself among it either way. pymoo's generator is
seeded from the run's own; its global state is not touched. Any number of objectives: pymoo's
problem is told the count with the first losses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pydantic import Field, model_validator
from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2

from dfo_bench.optimizers.base import SearchDomain
from dfo_bench.optimizers.box import BoxOptimizer, BoxParams, latin_hypercube
from dfo_bench.optimizers.pymoo_ask_tell import PymooAskTell, check_options
from dfo_bench.optimizers.sampling import around
from dfo_bench.ranges import log_int, ranges


class NSGA2Params(BoxParams):
    popsize: int = Field(20, ge=4)
    """pymoo's ``pop_size``: candidates per generation."""
    init_sigma: float = Field(0.02, gt=0)
    """Spread of the first population around x0 when no box is given (weights), in weight units."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of pymoo's ``NSGA2`` (e.g. ``{eliminate_duplicates: false}``)."""

    @model_validator(mode="after")
    def _not_reserved(self) -> NSGA2Params:
        check_options(self.options)
        return self


class NSGA2(BoxOptimizer):
    name = "nsga2"
    description = "NSGA-II (pymoo, ask/tell): non-dominated sorting and crowding, SBX + polynomial mutation, in a box"
    Params = NSGA2Params
    tuning_ranges = ranges(popsize=log_int(8, 100))
    params: NSGA2Params

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: NSGA2Params) -> None:
        super().__init__(search, rng, params)
        if self.box_given:
            first = self.from_unit(latin_hypercube(params.popsize, self.dim, rng))
            first[0] = self.start
        else:
            draws = np.random.default_rng(int(rng.integers(2**32)))
            first = np.clip(around(self.start, params.init_sigma, params.popsize, draws), self.low, self.high)
        algorithm = PymooNSGA2(pop_size=params.popsize, sampling=first, **params.options)
        self._pymoo = PymooAskTell(algorithm, self.low, self.high, objectives=2, seed=int(rng.integers(2**32)))

    @property
    def popsize(self) -> int:
        return self.params.popsize

    def _ask(self, n: int) -> torch.Tensor:
        return self._tensor(self._pymoo.ask())

    def _learn(self, X: np.ndarray, F: np.ndarray) -> None:
        self._pymoo.tell(F)
