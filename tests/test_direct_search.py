"""Direct search and the exact incremental evaluation of coordinate moves on the digits MLP."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dfo_bench.budget import Budget, BudgetLimits
from dfo_bench.moves import CoordinateMoves
from dfo_bench.objective import Objective
from dfo_bench.optimizers.base import SearchDomain
from dfo_bench.optimizers.direct_search import DirectSearch
from dfo_bench.problems import mlp_deep_moves_kernel
from dfo_bench.problems.digits import DigitsMLP
from dfo_bench.problems.mlp_moves import DeepMovesCache, MovesCache
from dfo_bench.spaces import FullSpace
from dfo_bench.testing import check_improves_within_budget, run_ok, run_spec

CPU = torch.device("cpu")


PATHS = ["kernel", "last-layers", "torch"]
"""How moves are evaluated: the kernel the problem picks (every layer's moves incremental for two
or more hidden layers); ``MovesCache`` with its kernel, what a deep net gets where the deep kernel
cannot be built (the last two layers incremental, earlier ones dense); its exact torch path."""


def digits(path: str, **params) -> DigitsMLP:
    problem = DigitsMLP.from_config(params, 0, CPU)
    problem.evaluate(CoordinateMoves(problem.initial_point(), torch.tensor([0]), problem.initial_point()[:1]))
    if path != "kernel":
        problem._moves_cache = MovesCache(problem.net, problem._xt["train"], problem.data.train.y, problem.REFRESH_EVERY)
        if path == "torch":
            problem._moves_cache.kernel = None
    if path != "torch" and getattr(problem._moves_cache, "kernel", None) is None:
        pytest.skip("no compiled moves kernel on this machine (the torch path is tested)")
    return problem


def test_a_deep_net_falls_back_to_the_last_layers_cache_without_its_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(digits("kernel", hidden=[16, 12])._moves_cache, DeepMovesCache)
    monkeypatch.setattr(mlp_deep_moves_kernel, "load", lambda: None)
    assert type(digits("kernel", hidden=[16, 12])._moves_cache) is MovesCache
    assert type(digits("kernel", hidden=[32])._moves_cache) is MovesCache


def layer_starts(problem: DigitsMLP) -> list[int]:
    sizes = [out * inp + out for out, inp in problem.net.shapes]
    return [sum(sizes[:i]) for i in range(len(sizes) + 1)]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("hidden", [[32], [16, 12], [12, 10, 8], []], ids=["64-32-10", "64-16-12-10", "64-12-10-8-10", "64-10"])
def test_moves_in_every_layer_equal_full_evaluation(path: str, hidden: list[int]) -> None:
    problem = digits(path, hidden=hidden)
    starts = layer_starts(problem)
    generator = torch.Generator().manual_seed(0)
    # weights and biases of every layer, plus a few random coordinates
    index = torch.tensor([starts[0], starts[1] - 1, *[s for s in starts[1:-1]], *[s - 1 for s in starts[2:]]])
    index = torch.cat([index, torch.randint(problem.dim, (8,), generator=generator)])
    x = problem.initial_point()
    moves = CoordinateMoves(x, index, x[index] + 0.5 * torch.randn(len(index), generator=generator))
    torch.testing.assert_close(problem.evaluate(moves), problem.evaluate(moves.dense()), rtol=0, atol=1e-5)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("hidden", [[32], [16, 12], [12, 10, 8]], ids=["64-32-10", "64-16-12-10", "64-12-10-8-10"])
def test_cache_stays_exact_over_many_accepted_moves(path: str, hidden: list[int]) -> None:
    problem = digits(path, hidden=hidden)
    cache = problem._moves_cache
    cache.refresh_every = 150
    generator = torch.Generator().manual_seed(1)
    x = problem.initial_point()
    for step in range(400):
        index = torch.randint(problem.dim, (2,), generator=generator)
        moves = CoordinateMoves(x, index, x[index] + 0.2 * torch.randn(2, generator=generator))
        losses = problem.evaluate(moves)
        x = x.clone()
        x[index[0]] = moves.value[0]  # accept, as a search would: a new base one coordinate away
        if step % 50 == 0:
            torch.testing.assert_close(losses, problem.evaluate(moves.dense()), rtol=0, atol=1e-5)
    assert cache.recomputes >= 3  # the periodic full refresh happened (plus the first build)
    if path == "kernel" and len(hidden) > 1:  # every layer's accepted moves applied in place, none recomputed
        assert isinstance(cache, DeepMovesCache) and cache.recomputes == 1 + 400 // 150
        cache.sync(x)
        assert cache.updates == 98  # changes 303 to 400, after the recompute at the 302nd: what follows is incremental
        fresh = DeepMovesCache(problem.net, cache.xt, cache.y, cache.refresh_every, cache.kernel)
        fresh.sync(x)
        for old, new in zip([*cache.Z, *cache.W, *cache.WT, cache.L], [*fresh.Z, *fresh.W, *fresh.WT, fresh.L], strict=True):
            torch.testing.assert_close(old, new, rtol=0, atol=1e-10)
    final = CoordinateMoves(x, torch.tensor([5]), x[5:6])
    torch.testing.assert_close(problem.evaluate(final), problem.evaluate(final.dense()), rtol=0, atol=1e-5)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("hidden", [[32], [16, 12], [12, 10, 8]], ids=["64-32-10", "64-16-12-10", "64-12-10-8-10"])
def test_a_periodic_recompute_equals_a_fresh_cache_bit_for_bit(path: str, hidden: list[int]) -> None:
    """The recompute keeps what does not change (the inputs of a one-hidden-layer net and their
    nonzeros): after accepted moves in every layer, its state is that of a cache built afresh."""
    problem = digits(path, hidden=hidden)
    cache = problem._moves_cache
    cache.refresh_every = 20
    generator = torch.Generator().manual_seed(2)
    x = problem.initial_point()
    for _ in range(60):  # moves anywhere: the first layer's force a recompute with new fan-in
        index = torch.randint(problem.dim, (1,), generator=generator)
        moves = CoordinateMoves(x, index, x[index] + 0.3 * torch.randn(1, generator=generator))
        problem.evaluate(moves)
        x = moves.dense()[0]
    cache._recompute(x)
    if isinstance(cache, DeepMovesCache):
        fresh: MovesCache | DeepMovesCache = DeepMovesCache(problem.net, cache.xt, cache.y, cache.refresh_every, cache.kernel)
        names: tuple[str, ...] = ("L", "_logp", "_ce", "_inputs")
    else:
        fresh = MovesCache(problem.net, cache.xt, cache.y, cache.refresh_every)
        fresh.kernel = cache.kernel
        names = ("A", "z", "R", "L", "W_out", "_logp", "_ce")
    fresh.sync(x)
    for name in names:
        assert torch.equal(getattr(cache, name), getattr(fresh, name)), name
    if isinstance(cache, DeepMovesCache) and isinstance(fresh, DeepMovesCache):
        kept, built = [*cache.Z, *cache.W, *cache.WT, *cache._csc], [*fresh.Z, *fresh.W, *fresh.WT, *fresh._csc]
        assert all(torch.equal(a, b) for a, b in zip(kept, built, strict=True))
    elif isinstance(cache, MovesCache) and isinstance(fresh, MovesCache) and path != "torch":
        assert all(torch.equal(a, b) for a, b in zip(cache._kernel_state, fresh._kernel_state, strict=True))


@pytest.mark.parametrize(
    ("path", "hidden"), [("kernel", [32]), ("kernel", [16, 12]), ("last-layers", [16, 12])], ids=["64-32-10", "64-16-12-10", "64-16-12-10-last"]
)
def test_the_kernels_refuse_moves_they_cannot_read(path: str, hidden: list[int]) -> None:
    """The kernels read the moves' memory directly: a float64 value, a base that is not contiguous,
    or a coordinate outside those the cache moves is refused with a message, never read."""
    problem = digits(path, hidden=hidden)
    cache, x, last = problem._moves_cache, problem.initial_point(), problem.dim - 1
    assert cache.evaluate(CoordinateMoves(x, torch.tensor([last]), x[-1:] + 0.1)).dtype == torch.float32
    strided = torch.stack([x, x], dim=1)[:, 0]
    refused = {
        "a float64 value": CoordinateMoves(x, torch.tensor([last]), (x[-1:] + 0.1).double()),
        "a strided base": CoordinateMoves(strided, torch.tensor([last]), x[-1:] + 0.1),
        "past the last coordinate": CoordinateMoves(x, torch.tensor([problem.dim]), x[:1]),
        "below the cache's first": CoordinateMoves(x, torch.tensor([cache.hidden_start - 1]), x[:1]),
    }
    if cache.hidden_start == 0:  # every coordinate moves: nothing below
        del refused["below the cache's first"]
    for what, moves in refused.items():
        with pytest.raises(RuntimeError, match="moves"):
            cache.evaluate(moves)
            pytest.fail(f"{what} was read")


def test_the_runner_reproduces_a_direct_search_run_stored_before_its_speed_ups() -> None:
    """The runner's path (ask, charge, incremental evaluation, accepted moves, periodic recomputes,
    tell) made this trace before it was made faster; a speed-up must not change a single decision.
    Counts are compared exactly, measurements to a relative 1e-6 (another CPU's float rounding)."""
    stored = json.loads((Path(__file__).parent / "data" / "direct_search_digits_seed0.json").read_text())
    result = run_ok(run_spec("direct-search", budget=BudgetLimits(evaluations=4000), checkpoints=8))
    assert [(r["evaluations"], r["samples"]) for r in result.trace] == [(r["evaluations"], r["samples"]) for r in stored["trace"]]
    for new, old in zip(result.trace, stored["trace"], strict=True):
        for key, value in old.items():
            assert new[key] == pytest.approx(value, rel=1e-6), key


def test_each_trial_is_charged_as_a_full_evaluation() -> None:
    problem = DigitsMLP.from_config({}, 0, CPU)
    budget = Budget(BudgetLimits())
    x = problem.initial_point()
    objective = Objective(problem, FullSpace(x), budget, super_batch=None)
    objective.evaluate(CoordinateMoves(x, torch.tensor([0, 1, 2]), torch.zeros(3)))
    assert budget.usage.evaluations == 3
    assert budget.usage.samples == 3 * objective.samples_per_evaluation == 3 * 1077


def test_circular_batches_fall_back_to_full_evaluation() -> None:
    problem = DigitsMLP.from_config({}, 0, CPU)
    twin = DigitsMLP.from_config({}, 0, CPU)
    x = problem.initial_point()
    objective, twin_objective = (Objective(p, FullSpace(x), Budget(BudgetLimits()), super_batch=100) for p in (problem, twin))
    moves = CoordinateMoves(x, torch.tensor([3, 2400]), torch.tensor([0.3, -0.3]))
    for _ in range(3):  # the batch changes every call, alike in both
        torch.testing.assert_close(objective.evaluate(moves), twin_objective.evaluate(moves.dense()))


def search(params: dict, dim: int = 20) -> DirectSearch:
    return DirectSearch.from_config(SearchDomain(torch.full((dim,), 0.5)), np.random.default_rng(0), params)


def test_bounds_are_respected() -> None:
    optimizer = search({"bounds": (-0.75, 0.75), "step": 0.5, "steps": "global", "poll": "pair"})
    for _ in range(200):
        X = optimizer.ask()
        assert float(X.value.min()) >= -0.75 and float(X.value.max()) <= 0.75
        optimizer.tell(X, ((X.dense() + 2) ** 2).sum(dim=1))  # pulls every weight below the box
    assert torch.allclose(optimizer.recommend(), torch.full((20,), -0.75))


def test_step_expands_contracts_and_restarts() -> None:
    global_pairs = {"steps": "global", "poll": "pair", "skip_flat": False}
    optimizer = search({"step": 0.1, "expansion": 2.0, "contraction": 0.5, "min_step": 0.01, **global_pairs})
    X = optimizer.ask()
    assert X.value[1] == X.base[X.index[1]]  # the first ask evaluates x0 itself
    optimizer.tell(X, torch.tensor([1.0, 2.0]))  # the move beats x0: a success
    assert optimizer.step_size == pytest.approx(0.2)
    X = optimizer.ask()
    optimizer.tell(X, torch.tensor([3.0, 0.5]))  # the better of the pair is taken
    assert optimizer.step_size == pytest.approx(0.4)
    assert float(optimizer.recommend()[X.index[1]]) == pytest.approx(float(X.value[1]))
    for expected in (0.2, 0.1, 0.05, 0.025, 0.0125):
        optimizer.tell(optimizer.ask(), torch.tensor([0.5, 0.6]))  # no improvement: contract
        assert optimizer.step_size == pytest.approx(expected)
    optimizer.tell(optimizer.ask(), torch.tensor([0.5, 0.5]))  # 0.00625 < min_step: restart
    assert optimizer.step_size == pytest.approx(0.1) and optimizer.restarts == 1


def test_direction_moves_have_the_step_as_length() -> None:
    optimizer = search({"moves": "direction", "bounds": None, "step": 0.3})
    optimizer.tell(optimizer.ask(), torch.tensor([1.0, 1.0]))
    X = optimizer.ask()
    assert isinstance(X, torch.Tensor)
    torch.testing.assert_close((X - optimizer.recommend()).norm(dim=1), torch.full((2,), 0.15))


@pytest.mark.parametrize("moves", ["coordinate", "direction"])
def test_improves_the_digits_loss(moves: str) -> None:
    check_improves_within_budget(run_spec("direct-search", {"moves": moves}, budget=BudgetLimits(evaluations=2000)))


def test_each_coordinate_adapts_its_own_step() -> None:
    optimizer = search({"step": 0.1, "expansion": 2.0, "contraction": 0.5, "poll": "pair", "skip_flat": False})
    X = optimizer.ask()
    optimizer.tell(X, torch.tensor([1.0, 2.0]))  # success on the first coordinate
    first = int(X.index[0])
    X = optimizer.ask()
    second = int(X.index[0])
    assert second != first
    optimizer.tell(X, torch.tensor([3.0, 3.0]))  # failure on the second
    assert optimizer._steps[first] == pytest.approx(0.2) and optimizer._steps[second] == pytest.approx(0.05)
    assert all(optimizer._steps[i] == pytest.approx(0.1) for i in range(20) if i not in (first, second))


def test_opportunistic_poll_tries_the_last_successful_direction_then_the_opposite() -> None:
    optimizer = search({"step": 0.1, "skip_flat": False})
    X = optimizer.ask()  # x0 and its first move
    optimizer.tell(X, torch.tensor([3.0, 2.0]))  # +step failed against x0
    X = optimizer.ask()
    assert len(X) == 1 and float(X.value[0]) == pytest.approx(0.5 - 0.1)  # the opposite move, same coordinate
    i = int(X.index[0])
    optimizer.tell(X, torch.tensor([1.0]))  # success with -step: that direction is remembered
    assert float(optimizer.recommend()[i]) == pytest.approx(0.4)
    for _ in range(19):  # the rest of the sweep fails on both moves
        for _ in range(2):
            Y = optimizer.ask()
            optimizer.tell(Y, torch.tensor([5.0]))
    X = optimizer.ask()  # the next sweep reaches i again: -step (×2 after the success) comes first
    while int(X.index[0]) != i:
        optimizer.tell(X, torch.tensor([5.0]))
        X = optimizer.ask()
    assert float(X.value[0]) == pytest.approx(0.4 - 0.2)


def test_flat_coordinates_are_mostly_skipped() -> None:
    dim = 200
    optimizer = search({"step": 0.1, "poll": "pair"}, dim=dim)
    flat = set(range(100))  # the loss ignores the first half of the coordinates

    def loss(X: CoordinateMoves) -> torch.Tensor:
        return ((X.dense()[:, 100:] - 1) ** 2).sum(dim=1)

    for _ in range(dim):  # one sweep: every coordinate once
        X = optimizer.ask()
        optimizer.tell(X, loss(X))
    assert set(np.flatnonzero(optimizer._flat).tolist()) == flat
    polled = []
    for _ in range(60):
        X = optimizer.ask()
        polled.append(int(X.index[0]))
        optimizer.tell(X, loss(X))
    revived = sum(i in flat for i in polled)
    assert revived < 0.3 * len(polled)  # ~1/8 of the flat half joins a sweep: ~11 % of the polls
