"""Every built-in optimizer against known optima, and our DE against SciPy's on the same settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import differential_evolution
from scipy.stats import mannwhitneyu

from dfo_bench.problems.functions import FUNCTIONS, rastrigin, rosenbrock
from dfo_bench.reference import REFERENCE, TESTED_SEEDS, minimize
from dfo_bench.registry import optimizers
from dfo_bench.testing import searching

BUILT_IN = {name for name, _, origin in optimizers.describe() if origin == "built-in"}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
@pytest.mark.parametrize("name", searching("weights"))
def test_reaches_its_reference_value(name: str, function: str) -> None:
    if name not in BUILT_IN:
        pytest.skip(f"{name} is a plugin; its reference values are its own package's business")
    if name not in REFERENCE:
        pytest.fail(
            f"built-in optimizer '{name}' has no row in dfo_bench.functions.REFERENCE: add one "
            "(params, budget and tolerance per function that it reliably meets)",
            pytrace=False,
        )
    row = REFERENCE[name]
    expect = row.expect[function]
    for seed in TESTED_SEEDS:
        value = minimize(name, row.params, function, row.x0, expect.evaluations, seed)
        assert value <= expect.tolerance, (
            f"{name} on {function}, seed {seed}: f = {value:.3g} after {expect.evaluations} evaluations, "
            f"REFERENCE expects <= {expect.tolerance:g}"
        )


def test_minimize_charges_every_candidate_and_cuts_the_last_generation() -> None:
    rows: list[int] = []

    def counted(X: torch.Tensor) -> torch.Tensor:
        rows.append(X.shape[0])
        return (X.double() ** 2).sum(dim=1)

    minimize("random-search", {"popsize": 32}, counted, torch.ones(5), 977, 0)
    assert sum(rows) == 977 + 1 and rows[-2:] == [977 % 32, 1]  # + the recommendation's value


# Same algorithm, same settings: scipy's popsize multiplies D; 'random' init is uniform in the box
# (its default is a Latin hypercube); deferred updating is generational like ours; no polishing and
# no early stop. 100 generations of 15 seeds tell F 0.5 from 0.7 or CR 0.9 from 0.5 (p < 0.001).
DIM, POPULATION, GENERATIONS, SEEDS = 10, 40, 100, range(15)
SCIPY_SETTINGS = {"mutation": 0.5, "recombination": 0.9}


def scipy_de(function, bounds: tuple[float, float], strategy: str, seed: int) -> float:
    result = differential_evolution(
        lambda X: function(torch.from_numpy(X.T)).numpy(),
        [bounds] * DIM,
        strategy=strategy,
        popsize=POPULATION // DIM,
        maxiter=GENERATIONS,
        init="random",
        polish=False,
        tol=0,
        atol=0,
        updating="deferred",
        vectorized=True,
        rng=seed,
        **SCIPY_SETTINGS,
    )
    return float(result.fun)


def our_de(function, bounds: tuple[float, float], strategy: str, seed: int) -> float:
    params = {
        "popsize": POPULATION,
        "F": SCIPY_SETTINGS["mutation"],
        "CR": SCIPY_SETTINGS["recombination"],
        "strategy": strategy,
        "init": "uniform",
        "bounds": bounds,
        "bounds_handling": "random",
    }
    return minimize("de", params, function, torch.zeros(DIM), POPULATION * (GENERATIONS + 1), seed)


@pytest.mark.parametrize(
    "strategy, function, bounds",
    [("rand1bin", rastrigin, (-5.12, 5.12)), ("best1bin", rosenbrock, (-5.0, 10.0))],
)
def test_de_matches_scipy_in_distribution(strategy: str, function, bounds: tuple[float, float]) -> None:
    ours = [our_de(function, bounds, strategy, seed) for seed in SEEDS]
    theirs = [scipy_de(function, bounds, strategy, seed) for seed in SEEDS]
    p = mannwhitneyu(ours, theirs, alternative="two-sided").pvalue
    assert p >= 0.01, (
        f"our de ({strategy}) and scipy's differ on {function.__name__} after {GENERATIONS} generations "
        f"(Mann-Whitney p = {p:.2g}): medians {np.median(ours):.3g} vs {np.median(theirs):.3g}"
    )
