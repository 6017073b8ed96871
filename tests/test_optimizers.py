"""Every registered optimizer, built-in or plugin, through the conformance kit plugins subclass
(``dfo_bench.conformance``), plus the checks particular to one optimizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dfo_bench.conformance import OptimizerCase, OptimizerContract, OptimizerRuns
from dfo_bench.optimizers.base import SearchDomain
from dfo_bench.registry import optimizers
from dfo_bench.testing import searching

ALL = searching("weights")
"""The optimizers of weights (typed-space ones: tests/test_hpo.py)."""
WEIGHTS = [name for name in ALL if optimizers.get(name).max_dim is None]
"""Those that can search the 2,410 weights of the digits MLP; the Gaussian-process methods, limited
to tens of coordinates, get the same contract checks on ZDT1 in ``test_multiobjective.py``."""
# Cheaper settings where the default is slow on the digits MLP (D = 2,410); defaults for the rest.
FAST = {"cma-es": {"diagonal": True}}


def case_of(name: str) -> OptimizerCase:
    return OptimizerCase(name, FAST.get(name, {}))


class TestEveryOptimizer(OptimizerContract):
    """The kit's interface checks, over every optimizer of weights."""

    @pytest.fixture(params=ALL)
    def case(self, request: pytest.FixtureRequest) -> OptimizerCase:
        return case_of(request.param)


class TestDigitsRuns(OptimizerRuns):
    """The kit's run checks on the digits MLP, over the optimizers that can search its weights."""

    @pytest.fixture(params=WEIGHTS)
    def case(self, request: pytest.FixtureRequest) -> OptimizerCase:
        return case_of(request.param)


def test_de_best1bin_and_bounds_respected() -> None:
    bounds = (-0.3, 0.3)
    params = {"strategy": "best1bin", "bounds": bounds, "init": "uniform", "popsize": 10}
    optimizer = optimizers.get("de").from_config(SearchDomain(torch.zeros(20)), np.random.default_rng(1), params)
    for _ in range(30):
        X = optimizer.ask()
        assert X.min() >= bounds[0] and X.max() <= bounds[1]
        optimizer.tell(X, ((X - 0.2) ** 2).sum(dim=1))
    assert float(((optimizer.recommend() - 0.2) ** 2).sum()) < 0.2


def test_full_cma_refuses_huge_dimension_with_advice() -> None:
    with pytest.raises(ValueError, match="diagonal: true"):
        optimizers.get("cma-es").from_config(SearchDomain(torch.zeros(25_450)), np.random.default_rng(0), {})
