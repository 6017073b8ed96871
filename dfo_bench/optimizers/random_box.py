"""Uniform random search in a box: the baseline every multi-objective method must beat.

Each generation draws ``popsize`` points uniformly in the box (``optimizers.box``: the optimizer's
``bounds``, the problem's box, else x0 ± radius); the first generation starts with x0 itself. It
learns nothing: the attained front is what chance found, which is what a hypervolume curve of a
model-based method is compared with. Any number of objectives (one included).
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from dfo_bench.optimizers.base import SearchDomain
from dfo_bench.optimizers.box import BoxOptimizer, BoxParams
from dfo_bench.ranges import log_int, ranges


class RandomBoxParams(BoxParams):
    popsize: int = Field(10, ge=1)
    """Points per generation (any ask size is accepted)."""


class RandomBox(BoxOptimizer):
    name = "random-box"
    description = "uniform random points in a box (any number of objectives): the multi-objective baseline"
    Params = RandomBoxParams
    tuning_ranges = ranges(popsize=log_int(1, 50))
    params: RandomBoxParams

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: RandomBoxParams) -> None:
        super().__init__(search, rng, params)
        self._first = True

    @property
    def popsize(self) -> int:
        return self.params.popsize

    def _ask(self, n: int) -> torch.Tensor:
        X = self.from_unit(self.rng.random((n, self.dim)))
        if self._first and n:
            X[0] = self.start
        self._first = False
        return self._tensor(X)
