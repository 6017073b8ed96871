"""Low-rank populations (EGGROLL): exact against their dense members, the update by hand, pairs, seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dfo_bench.budget import BudgetLimits
from dfo_bench.lowrank import LowRankPopulation, Matrix, WeightLayout
from dfo_bench.optimizers.base import SearchDomain
from dfo_bench.optimizers.eggroll import Eggroll, EggrollParams, shaped
from dfo_bench.problems import mlp, mlp_low_rank_kernel
from dfo_bench.registry import problems
from dfo_bench.testing import check_deterministic, run_ok, run_spec, searching

from .conftest import fake_cifar_root, fake_mnist

CPU = torch.device("cpu")
WITH_LAYOUT = [name for name in searching("weights", "problems") if problems.get(name).has_layout]


def small_config(name: str, tmp_path: Path) -> dict[str, Any]:
    """A small configuration of each problem with a layout (a new one must be added here)."""
    if name == "digits-mlp":
        return {"hidden": [16, 8]}
    if name == "mnist-mlp":
        fake_mnist(tmp_path, 400, "t10k")
        return {"root": str(tmp_path), "n_train": 200, "n_val": 100, "n_test": 100, "hidden": [12]}
    if name.startswith("cifar"):
        sizes = (
            {"n_train": 40, "n_val": 20, "n_test": 10}
            if name == "cifar10-resnet18"
            else {"n_train": 100, "n_val": 100, "n_test": 100}
        )
        return {"root": str(fake_cifar_root()), **sizes, "width": 0.125, "super_batch": 40}
    if name == "rl":  # members are played dense: the fallback path, with a policy of two matrices
        return {"env": "CartPole-v1", "hidden": [8], "val_episodes": 1, "test_episodes": 1}
    raise AssertionError(f"add a small configuration of {name} to test its low-rank path")


@pytest.mark.parametrize("name", WITH_LAYOUT)
def test_low_rank_losses_equal_dense_losses(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mlp, "LOW_RANK_BLOCK", 4)  # 6 members: two blocks
    cls = problems.get(name)
    problem = cls.from_config(small_config(name, tmp_path), 0, CPU)
    layout = problem.layout
    assert layout is not None and layout.dim == problem.dim and layout == cls.layout_of(problem.params)
    generator = torch.Generator().manual_seed(1)
    population = LowRankPopulation.sample(problem.initial_point(), layout, 2, 0.5, 3, True, generator)
    batches = [None] if problem.train_size is None else [None, torch.arange(0, problem.train_size, 3)]
    for rows in (slice(None), slice(0, 4)):  # a population the budget cuts, too
        for on in batches:
            low_rank = problem.evaluate(population[rows], on)
            dense = problem.evaluate(population[rows].dense(), on)
            assert low_rank.shape == dense.shape
            torch.testing.assert_close(low_rank, dense, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode, built", [("loop", [1] * 6), ("vmap", [4, 2])])
def test_a_resnet_builds_low_rank_members_as_it_evaluates_them(
    mode: str, built: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ResNets' dense fallback never holds the P × D floats of a whole population: members
    are built one at a time, or a vmap chunk at a time."""
    sizes: list[int] = []
    dense = LowRankPopulation.dense
    monkeypatch.setattr(LowRankPopulation, "dense", lambda self: sizes.append(len(self)) or dense(self))
    config = {**small_config("cifar10-resnet18", tmp_path), "population": mode, "vmap_chunk": 4}
    problem = problems.get("cifar10-resnet18").from_config(config, 0, CPU)
    assert problem.layout is not None
    population = LowRankPopulation.sample(problem.initial_point(), problem.layout, 1, 0.1, 3, True, torch.Generator().manual_seed(0))
    assert problem.evaluate(population).shape == (6,) and sizes == built


def test_dense_members_and_combine_follow_the_definition() -> None:
    layout = WeightLayout(11, (Matrix(0, 3, 2), Matrix(7, 2, 2)))  # coordinate 6 is a vector
    generator = torch.Generator().manual_seed(0)
    centre = torch.randn(11, generator=generator)
    population = LowRankPopulation.sample(centre, layout, 2, 0.1, 3, True, generator)
    X = population.dense()
    vectors = layout.vector_index
    assert vectors.tolist() == [6]
    for p in range(6):
        k, sign = int(population.draw[p]), float(population.sign[p])
        expected = centre.clone()
        for m, A, B in zip(layout.matrices, population.A, population.B, strict=True):
            expected[m.start : m.stop] += sign * 0.1 / np.sqrt(2) * (A[k] @ B[k].t()).flatten()
        expected[vectors] += sign * 0.1 * population.vector[k]
        torch.testing.assert_close(X[p], expected)
    weights = torch.randn(6, generator=generator)
    torch.testing.assert_close(population.combine(weights), weights @ (X - centre), rtol=1e-5, atol=1e-6)


def test_antithetic_pairs_share_their_noise() -> None:
    layout = WeightLayout(8, (Matrix(0, 3, 2),))
    centre = torch.zeros(8)
    population = LowRankPopulation.sample(centre, layout, 1, 0.3, 4, True, torch.Generator().manual_seed(0))
    assert torch.equal(population.draw[:4], population.draw[4:])
    assert torch.equal(population.sign[:4], -population.sign[4:])
    X = population.dense()
    torch.testing.assert_close(X[:4], -X[4:])
    assert len({tuple(row.tolist()) for row in X}) == 8


def test_eggroll_update_equals_a_hand_computation_on_a_3x2_matrix() -> None:
    """N = 4 members (two antithetic pairs), rank 1, a 3×2 matrix and one bias: θ ← θ + lr·(1/N)·Σ f̂_i E_i
    with f̂ the z-scores of −loss, E_i = ±σ·a bᵀ on the matrix and ±σ·ε on the bias (SGD)."""
    layout = WeightLayout(7, (Matrix(0, 3, 2),))
    x0 = torch.arange(7, dtype=torch.float32) / 10
    sigma, lr = 0.1, 0.5
    optimizer = Eggroll(SearchDomain(x0, layout=layout), np.random.default_rng(0), EggrollParams(popsize=4, sigma=sigma, lr=lr))
    X = optimizer.ask()
    a, b, eps = X.A[0][:, :, 0], X.B[0][:, :, 0], X.vector  # draws (2, 3), (2, 2), (2, 1)
    losses = torch.tensor([1.0, 2.0, 4.0, 3.0])
    optimizer.tell(X, losses)
    fitness = [-1.0, -2.0, -4.0, -3.0]
    mean = sum(fitness) / 4
    std = (sum((f - mean) ** 2 for f in fitness) / 4) ** 0.5
    z = [(f - mean) / std for f in fitness]
    W, bias = torch.zeros(3, 2), 0.0
    for i, (k, sign) in enumerate([(0, 1.0), (1, 1.0), (0, -1.0), (1, -1.0)]):
        for r in range(3):
            for c in range(2):
                W[r, c] += z[i] * sign * sigma * float(a[k, r]) * float(b[k, c]) / 4
        bias += z[i] * sign * sigma * float(eps[k, 0]) / 4
    expected = x0.clone()
    expected[:6] += lr * W.flatten()
    expected[6] += lr * bias
    torch.testing.assert_close(optimizer.recommend(), expected)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_eggroll_steps_as_torch_optim_steps(name: str) -> None:
    """Each generation's θ is what ``torch.optim.SGD`` / ``Adam`` with ``grad`` = −g computes, bit
    for bit (eggroll calls SGD's functional form, without its ``step()``)."""
    layout = WeightLayout(9, (Matrix(0, 3, 2), Matrix(6, 1, 2)))
    x0 = torch.linspace(-1, 1, 9)
    params = EggrollParams(popsize=6, sigma=0.1, lr=0.3, optimizer=name)  # type: ignore[arg-type]
    optimizer = Eggroll(SearchDomain(x0, layout=layout), np.random.default_rng(1), params)
    theta = x0.clone()
    reference = (torch.optim.SGD if name == "sgd" else torch.optim.Adam)([theta], lr=params.lr)
    generator = torch.Generator().manual_seed(2)
    for _ in range(4):
        X = optimizer.ask()
        losses = torch.rand(6, generator=generator)
        theta.grad = -X.combine(shaped(losses, "z-score")) / len(X)
        reference.step()
        optimizer.tell(X, losses)
        assert torch.equal(optimizer.recommend(), theta)
        assert not torch.equal(theta, x0)


def test_noise_is_reused_for_the_generations_asked() -> None:
    layout = WeightLayout(8, (Matrix(0, 3, 2),))
    optimizer = Eggroll(
        SearchDomain(torch.zeros(8), layout=layout), np.random.default_rng(0), EggrollParams(popsize=4, noise_reuse=2)
    )
    draws = []
    for _ in range(3):
        X = optimizer.ask()
        draws.append(X.A[0])
        optimizer.tell(X, torch.rand(4, dtype=torch.float64))
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[1], draws[2])
    assert not torch.equal(X.centre, torch.zeros(8)), "reused noise is centred on the moved point"


@pytest.mark.parametrize(
    "params", [{"rank": 2, "shaping": "centred-ranks", "optimizer": "adam", "lr": 0.01}, {"antithetic": False, "popsize": 7}]
)
def test_eggroll_variants_same_seed_same_run(params: dict[str, Any]) -> None:
    check_deterministic(run_spec("eggroll", params, budget=BudgetLimits(evaluations=200)))


def test_openai_es_low_rank_same_seed_same_run_and_improves() -> None:
    spec = run_spec("openai-es", {"rank": 1}, budget=BudgetLimits(evaluations=400))
    check_deterministic(spec)
    trace = run_ok(spec).trace
    assert trace[-1]["train_loss"] < trace[0]["train_loss"]


def one_hidden_layer_mlp(tmp_path: Path, n_train: int) -> Any:
    """mnist-mlp with 12 hidden units on n_train fake images (not a multiple of the kernel's 16 lanes)."""
    fake_mnist(tmp_path, n_train + 200, "t10k")
    config = {"root": str(tmp_path), "n_train": n_train, "n_val": 100, "n_test": 100, "hidden": [12]}
    return problems.get("mnist-mlp").from_config(config, 0, CPU)


def test_the_low_rank_kernel_equals_the_torch_path_in_chunks_pairs_and_nan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kernel = mlp_low_rank_kernel.load()
    assert kernel is not None, "the low-rank kernel did not build (ninja and a C++ compiler are needed)"
    problem = one_hidden_layer_mlp(tmp_path, 203)
    xt, y = problem._xt["train"], problem.data.train.y
    generator = torch.Generator().manual_seed(2)
    centre = problem.initial_point()
    populations = [
        LowRankPopulation.sample(centre, problem.layout, 3, 0.3, 5, True, generator),
        LowRankPopulation.sample(centre, problem.layout, 1, 0.3, 7, False, generator)[2:6],
    ]
    monkeypatch.setattr(mlp, "KERNEL_ELEMENTS", 40 * 50)  # several chunks of samples
    for population in populations:
        fast = problem.net.low_rank_losses(population, xt, y)
        with monkeypatch.context() as m:
            m.setattr(mlp_low_rank_kernel, "load", lambda: None)
            slow = problem.net.low_rank_losses(population, xt, y)
        torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-6)
    broken = centre.clone()
    broken[5] = float("nan")  # a first-layer weight: NaN in every member's loss, as torch gives
    population = LowRankPopulation.sample(broken, problem.layout, 1, 0.3, 2, True, generator)
    assert problem.net.low_rank_losses(population, xt, y).isnan().all()


def test_the_low_rank_kernel_gives_the_same_sums_with_any_number_of_threads(tmp_path: Path) -> None:
    kernel = mlp_low_rank_kernel.load()
    assert kernel is not None, "the low-rank kernel did not build (ninja and a C++ compiler are needed)"
    generator = torch.Generator().manual_seed(3)
    H, n, P, r, K = 12, 1000, 6, 2, 10
    args = (
        torch.randn(H, n, generator=generator),
        torch.randn(3, r, n, generator=generator),
        torch.tensor([0, 1, 2, 0, 1, 2]),
        torch.randn(P, H, generator=generator),
        torch.randn(P, H, r, generator=generator),
        torch.randn(P, K, H, generator=generator),
        torch.randn(P, K, generator=generator),
        torch.randint(K, (n,), generator=generator),
    )
    threads = torch.get_num_threads()
    try:
        sums = []
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            sums.append(kernel.low_rank_cross_entropy(*args))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(sums[0], sums[1]) and torch.equal(sums[0], sums[2])
    h = torch.relu(args[0] + args[3].unsqueeze(2) + torch.bmm(args[4], args[1][args[2]]))
    logits = torch.bmm(args[5], h) + args[6].unsqueeze(2)
    expected = torch.nn.functional.cross_entropy(logits, args[7].expand(P, -1), reduction="none").sum(1)
    torch.testing.assert_close(sums[0].float(), expected, rtol=1e-5, atol=1e-3)
