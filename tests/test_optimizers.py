"""Every registered optimizer, built-in or plugin, against the same contract."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from dfo_bench.budget import BudgetLimits
from dfo_bench.moves import dense
from dfo_bench.optimizers.base import AskTellOptimizer, GradientOptimizer, SearchDomain
from dfo_bench.registry import optimizers
from dfo_bench.spec import RunSpec
from dfo_bench.testing import check_deterministic, check_improves_within_budget, run_spec, searching

ALL = searching("weights")
"""The optimizers of weights (typed-space ones: tests/test_hpo.py)."""
WEIGHTS = [name for name in ALL if optimizers.get(name).max_dim is None]
"""Those that can search the 2,410 weights of the digits MLP; the Gaussian-process methods, limited
to tens of coordinates, get the same contract checks on ZDT1 in ``test_multiobjective.py``."""
# Cheaper settings where the default is slow on the digits MLP (D = 2,410); defaults for the rest.
FAST = {"cma-es": {"diagonal": True}}


def spec(name: str, **kwargs: Any) -> RunSpec:
    return run_spec(name, FAST.get(name), **kwargs)


@pytest.mark.parametrize("name", WEIGHTS)
def test_improves_on_digits_and_never_overspends(name: str) -> None:
    result = check_improves_within_budget(spec(name))
    assert len(result.trace) >= 20, "a run of enough generations records at least 20 checkpoints"


@pytest.mark.parametrize("name", WEIGHTS)
@pytest.mark.parametrize("unit", ["evaluations", "samples"])
def test_stops_exactly_within_each_kind_of_limit(name: str, unit: str) -> None:
    limit = {"evaluations": 977, "samples": 1_234_567}[unit]
    result = check_improves_within_budget(spec(name, budget=BudgetLimits(**{unit: limit})))
    spent = result.trace[-1][unit]
    # Stops only when the next charge would not fit: at most one evaluation (or step) short.
    largest_charge = {"evaluations": 1, "samples": 1077}[unit]
    assert limit - largest_charge < spent <= limit


@pytest.mark.parametrize("name", WEIGHTS)
def test_time_limit_stops_the_run(name: str) -> None:
    result = check_improves_within_budget(spec(name, budget=BudgetLimits(seconds=1.0)))
    assert 1.0 <= result.trace[-1]["seconds"] < 6.0


@pytest.mark.parametrize("name", WEIGHTS)
def test_same_seed_same_run_other_seed_other_run(name: str) -> None:
    check_deterministic(spec(name, budget=BudgetLimits(evaluations=400)))


@pytest.mark.parametrize("name", ALL)
def test_interface_shapes(name: str) -> None:
    x0 = torch.linspace(-1, 1, 50)
    optimizer = optimizers.get(name).from_config(SearchDomain(x0), np.random.default_rng(0), {})
    assert optimizer.recommend().shape == (50,)
    if isinstance(optimizer, AskTellOptimizer):
        X = optimizer.ask()
        assert X.shape == (optimizer.popsize, 50) and dense(X).dtype == torch.float32
        with pytest.raises(FloatingPointError):
            optimizer.tell(X, torch.full((X.shape[0],), float("nan")))
        optimizer.tell(X, (dense(X) ** 2).sum(dim=1))
        assert optimizer.recommend().shape == (50,)
    else:
        assert isinstance(optimizer, GradientOptimizer)
        optimizer._step(lambda x, batch: (float((x**2).sum()), 2 * x))
        assert float((optimizer.recommend() ** 2).sum()) < float((x0**2).sum())


@pytest.mark.parametrize("name", ALL)
def test_unknown_parameter_is_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="no_such_parameter"):
        optimizers.get(name).Params(no_such_parameter=1)


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
