"""HBDE's (and DE's) ``init: neighbours``: the first generation the HBDE authors' code is described
to use, each block uniform between its neighbours' means, the start itself one member."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dfo_bench.budget import BudgetLimits
from dfo_bench.errors import ConfigError
from dfo_bench.optimizers.base import SearchDomain
from dfo_bench.optimizers.de import DEParams, DifferentialEvolution
from dfo_bench.optimizers.hbde import HBDE, HBDEParams
from dfo_bench.optimizers.sampling import between_neighbours
from dfo_bench.spaces import BlockSpace
from dfo_bench.suite import load_suite
from dfo_bench.testing import run_ok, run_spec
from tests.conftest import with_changes


def weights(n: int = 20_000, seed: int = 0) -> torch.Tensor:
    """Weights shaped like a network's: most near zero, a few far out (some bins empty)."""
    g = torch.Generator().manual_seed(seed)
    return torch.cat([0.05 * torch.randn(n, generator=g), torch.randn(n // 100, generator=g)])


def first_generation(x0: torch.Tensor, seed: int = 0, **params) -> torch.Tensor:
    opt = HBDE(SearchDomain(x0), np.random.default_rng(seed), HBDEParams(init="neighbours", **params))
    return opt.ask()


def neighbour_means(x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each coordinate, the lower and upper of its neighbours' values in x0 sorted (itself at the ends)."""
    values, order = torch.sort(x0, stable=True)
    low, high = torch.empty_like(x0), torch.empty_like(x0)
    low[order] = torch.cat([values[:1], values[:-1]])
    high[order] = torch.cat([values[1:], values[-1:]])
    return low, high


def test_in_the_blocks_space_every_block_starts_between_its_neighbours_means() -> None:
    space = BlockSpace(weights(), n_bins=2_000)
    x0 = space.initial()
    assert space.dim < 2_000  # empty bins dropped: neighbours are the adjacent non-empty blocks
    assert torch.all(x0[1:] > x0[:-1])  # the block means are in bin order: sorting changes nothing
    X = first_generation(x0, popsize=16)
    assert X.shape == (16, space.dim)
    lower = torch.cat([x0[:1], x0[:-1]])  # block b-1's mean (the first block: its own)
    upper = torch.cat([x0[1:], x0[-1:]])  # block b+1's mean (the last block: its own)
    assert torch.all((X >= lower) & (X <= upper))
    assert torch.equal(X[0], x0)
    # The draws fill the interval rather than sit on x0.
    inner = X[1:, 1:-1]
    assert torch.all((inner != x0[1:-1]).float().mean() > 0.99)
    assert (inner > x0[1:-1]).float().mean() == pytest.approx(0.5, abs=0.05)


def test_in_the_full_space_the_neighbours_are_those_of_x0_sorted() -> None:
    x0 = weights(5_000)[torch.randperm(5_050, generator=torch.Generator().manual_seed(1))]
    X = first_generation(x0, popsize=8)
    low, high = neighbour_means(x0)
    assert torch.all((X >= low) & (X <= high))
    assert torch.equal(X[0], x0)
    de = DifferentialEvolution(SearchDomain(x0), np.random.default_rng(0), DEParams(popsize=8, init="neighbours")).ask()
    assert torch.equal(de, X)  # HBDE's option is DE's: the same draws from the same stream


def test_the_start_is_a_member_unless_asked_otherwise_and_the_others_do_not_change() -> None:
    x0 = BlockSpace(weights(), n_bins=500).initial()
    kept, dropped = first_generation(x0, popsize=6), first_generation(x0, popsize=6, keep_start=False)
    assert torch.equal(kept[0], x0) and not torch.equal(dropped[0], x0)
    assert torch.equal(kept[1:], dropped[1:])
    # keep_start applies to the Gaussian start too, and adds the start to a uniform one.
    gauss = HBDE(SearchDomain(x0), np.random.default_rng(0), HBDEParams(keep_start=False)).ask()
    assert not torch.equal(gauss[0], x0)
    uniform = HBDE(SearchDomain(x0), np.random.default_rng(0), HBDEParams(init="uniform", bounds=(-1, 1), keep_start=True)).ask()
    assert torch.equal(uniform[0], x0)


def test_same_seed_same_population_other_seed_other_population() -> None:
    x0 = BlockSpace(weights(), n_bins=1_000).initial()
    a, b, c = first_generation(x0, seed=3), first_generation(x0, seed=3), first_generation(x0, seed=4)
    assert torch.equal(a, b)
    assert not torch.equal(a[1:], c[1:])


def test_the_sampler_stays_on_the_device_and_dtype_of_x0_and_handles_one_coordinate() -> None:
    g = torch.Generator().manual_seed(0)
    x0 = torch.tensor([0.3, -0.1, 0.2], dtype=torch.float64)
    X = between_neighbours(x0, 5, g)
    assert X.dtype == torch.float64 and X.device == x0.device
    # -0.1 is lowest: between itself and 0.2; 0.2 between -0.1 and 0.3; 0.3 between 0.2 and itself.
    assert torch.all((X[:, 1] >= -0.1) & (X[:, 1] <= 0.2))
    assert torch.all((X[:, 2] >= -0.1) & (X[:, 2] <= 0.3))
    assert torch.all((X[:, 0] >= 0.2) & (X[:, 0] <= 0.3))
    assert torch.equal(between_neighbours(torch.tensor([1.5]), 4, g), torch.full((4, 1), 1.5))


def test_defaults_are_unchanged_and_left_out_of_run_identities() -> None:
    assert HBDEParams().identity() == {} and DEParams().identity() == {}
    assert HBDEParams(init="neighbours").identity() == {"init": "neighbours"}
    assert HBDEParams(keep_start=False).identity() == {"keep_start": False}
    # The default first generation is the one before the option existed: x0, then x0 + sigma·N(0, I).
    x0 = BlockSpace(weights(), n_bins=500).initial()
    rng = np.random.default_rng(0)
    g = torch.Generator().manual_seed(int(np.random.default_rng(0).integers(2**63)))
    expected = torch.randn((32, x0.numel()), generator=g).mul_(0.01).add_(x0)
    expected[0] = x0
    assert torch.equal(HBDE(SearchDomain(x0), rng, HBDEParams()).ask(), expected)


def test_a_suite_chooses_the_init_and_a_run_with_it_completes(write_suite) -> None:
    suite = load_suite(
        write_suite(
            with_changes(
                optimizers=[
                    "hbde",
                    {"name": "hbde", "params": {"init": "neighbours"}},
                    {"name": "de", "params": {"init": "neighbours"}},
                ],
                seeds=[0],
            )
        )
    )
    labels = [r.optimizer.label for r in suite.runs]
    assert labels == ["hbde", "hbde[init=neighbours]", "de[init=neighbours]"]
    assert suite.runs[1].optimizer.params.init == "neighbours"
    assert len({r.run_id for r in suite.runs}) == 3
    with pytest.raises(ConfigError, match="init"):  # not one of the choices: a user error naming the field
        load_suite(write_suite(with_changes(optimizers=[{"name": "hbde", "params": {"init": "sideways"}}]), "bad.yaml"))
    result = run_ok(run_spec("hbde", {"popsize": 8, "init": "neighbours"}, budget=BudgetLimits(evaluations=48), super_batch=359))
    assert result.trace[-1]["train_loss"] <= result.trace[0]["train_loss"]
