"""Every registered problem against the same contract, plus the MLP and MNIST specifics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from dfo_bench.budget import Budget, BudgetLimits
from dfo_bench.errors import BudgetExceeded
from dfo_bench.objective import Objective
from dfo_bench.problems.base import DifferentiableProblem
from dfo_bench.problems.data import CircularBatches
from dfo_bench.problems.metrics import macro_f1
from dfo_bench.registry import problems
from dfo_bench.spaces import FullSpace
from dfo_bench.testing import check_population_consistent, searching

from .conftest import SHARED_MNIST, fake_cifar_root, fake_mnist, needs_mnist

WEIGHT_PROBLEMS = searching("weights", "problems")
"""Problems of weights (the typed ones: tests/test_hpo.py)."""

# Parameters a test machine can satisfy; a plugin problem is tested with its defaults. The ResNet
# problems run on small generated CIFAR-shaped archives (one chunk of the training set per
# evaluation, so a population equals its members evaluated one by one).
CONFIGS = {
    "mnist-mlp": {"root": str(SHARED_MNIST)},
    "cifar10-resnet18": {"n_train": 40, "n_val": 20, "n_test": 10, "width": 0.125, "super_batch": 40},
    "cifar100-resnet18": {"n_train": 100, "n_val": 100, "n_test": 100, "width": 0.125, "super_batch": 100},
}


def config(name: str) -> dict:
    """Parameters this machine can satisfy; skips the test where the data is missing."""
    if name == "mnist-mlp" and not SHARED_MNIST.is_dir():
        pytest.skip(f"no MNIST files in {SHARED_MNIST}")
    if name.endswith("-resnet18"):
        return {**CONFIGS[name], "root": str(fake_cifar_root())}
    return CONFIGS.get(name, {})


def build(name: str, seed: int = 0, **params):
    return problems.get(name).from_config({**config(name), **params}, seed, torch.device("cpu"))


@pytest.mark.parametrize("name", WEIGHT_PROBLEMS)
def test_population_equals_individuals_and_is_charged_exactly(name: str) -> None:
    check_population_consistent(name, config(name))


@pytest.mark.parametrize("name", WEIGHT_PROBLEMS)
def test_seed_fixes_split_and_initial_weights(name: str) -> None:
    a, b, c = build(name, 0), build(name, 0), build(name, 1)
    assert torch.equal(a.initial_point(), b.initial_point())
    assert not torch.equal(a.initial_point(), c.initial_point())
    assert a.initial_point().shape == (a.dim,)
    assert a.metrics(a.initial_point(), "val") == b.metrics(b.initial_point(), "val")
    if a.has_data:  # the split moves with the seed
        assert a.metrics(a.initial_point(), "test") != c.metrics(a.initial_point(), "test")


@pytest.mark.parametrize("name", WEIGHT_PROBLEMS)
def test_overspending_is_refused_before_any_work(name: str) -> None:
    problem = build(name)
    budget = Budget(BudgetLimits(evaluations=3))
    objective = Objective(problem, FullSpace(problem.initial_point()), budget, type(problem).super_batch_of(problem.params))
    calls: list[int] = []
    evaluate = problem.evaluate
    problem.evaluate = lambda X, batch=None: calls.append(X.shape[0]) or evaluate(X, batch)  # type: ignore[method-assign]
    X = problem.initial_point().expand(4, -1).clone()
    with pytest.raises(BudgetExceeded):  # 3 of 4 fit: those are evaluated and charged, the 4th is not
        objective.evaluate(X)
    assert budget.usage.evaluations == 3 and calls == [3]
    with pytest.raises(BudgetExceeded):  # nothing fits: nothing is evaluated
        objective.evaluate(X[:1])
    if isinstance(problem, DifferentiableProblem):  # ZDT1 has none
        with pytest.raises(BudgetExceeded):
            objective.loss_and_grad(X[0], 8)
    assert budget.usage.evaluations == 3 and calls == [3]


@pytest.mark.parametrize("name", WEIGHT_PROBLEMS)
def test_training_set_size_known_from_the_parameters_is_the_built_ones(name: str) -> None:
    """What a suite checks super-batches and minibatches against before anything loads."""
    problem = build(name)
    known = type(problem).train_size_of(problem.params)
    assert known == problem.train_size or (known is None and name not in ("digits-mlp", "mnist-mlp", "cifar10-resnet18"))


@pytest.mark.parametrize("name", WEIGHT_PROBLEMS)
def test_metrics_are_in_range(name: str) -> None:
    problem = build(name)
    for split in ("train", "val", "test"):
        m = problem.metrics(problem.initial_point(), split)
        if not problem.has_data:  # a test function: its value, or its objectives objective_1, ...
            names = {"loss"} if problem.objectives == 1 else {f"objective_{i + 1}" for i in range(problem.objectives)}
            assert set(m) == names and min(m.values()) >= 0
            continue
        assert set(m) == {"loss", "accuracy", "f1"}
        assert m["loss"] > 0 and 0 <= m["accuracy"] <= 1 and 0 <= m["f1"] <= 1
    with pytest.raises(ValueError, match="allowed"):
        problem.metrics(problem.initial_point(), "holdout")


@pytest.mark.parametrize("name", ["digits-mlp", "mnist-mlp"])
def test_mlp_losses_and_gradient_match_torch_module(name: str) -> None:
    problem = build(name)
    sizes = problem.net.sizes
    layers: list[torch.nn.Module] = []
    for i in range(len(sizes) - 1):
        layers += [torch.nn.Linear(sizes[i], sizes[i + 1]), torch.nn.ReLU()]
    module = torch.nn.Sequential(*layers[:-1])
    assert sum(p.numel() for p in module.parameters()) == problem.dim
    X = problem.initial_point() + 0.1 * torch.randn(3, problem.dim, generator=torch.Generator().manual_seed(0))
    losses = problem.evaluate(X)
    train = problem.data.train
    for i in range(3):
        torch.nn.utils.vector_to_parameters(X[i], module.parameters())
        expected = torch.nn.functional.cross_entropy(module(train.x), train.y)
        torch.testing.assert_close(losses[i], expected, rtol=1e-5, atol=1e-5)
    # One Adam-style gradient on a minibatch equals autograd through the module on the same samples.
    budget = Budget(BudgetLimits())
    loss, grad = Objective(problem, FullSpace(X[0]), budget, super_batch=None).loss_and_grad(X[0], 32)
    assert budget.usage.samples == 96 and budget.usage.evaluations == 1
    assert grad.shape == (problem.dim,) and torch.isfinite(grad).all() and loss > 0


def test_784_32_10_has_25450_weights() -> None:
    from dfo_bench.problems.mlp import PopulationMLP

    assert PopulationMLP([784, 32, 10]).dim == 25_450


def test_macro_f1_equals_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    for n_classes in (2, 10, 100):
        y = rng.integers(0, n_classes, 500)
        pred = np.where(rng.random(500) < 0.4, y, rng.integers(0, n_classes, 500))
        pred[pred == 1] = 0  # a class never predicted
        ours = macro_f1(torch.from_numpy(pred), torch.from_numpy(y), n_classes)
        assert ours == pytest.approx(f1_score(y, pred, average="macro", zero_division=0), abs=1e-12)


def test_circular_batches_use_every_sample_once_per_cycle() -> None:
    stream = CircularBatches(10, 3, torch.Generator().manual_seed(0))
    drawn = torch.cat([stream.next() for _ in range(10)])  # 30 samples = 3 full cycles
    for cycle in drawn.view(3, 10):
        assert sorted(cycle.tolist()) == list(range(10))


def test_idx_folder_with_test_files_only_is_split_by_seed(tmp_path: Path) -> None:
    fake_mnist(tmp_path, 400, "t10k")
    params = {"root": str(tmp_path), "n_train": 200, "n_val": 100, "n_test": 100}
    a = problems.get("mnist-mlp").from_config(params, 0, torch.device("cpu"))
    b = problems.get("mnist-mlp").from_config(params, 1, torch.device("cpu"))
    sizes = [a.data.split(s).y.numel() for s in ("train", "val", "test")]
    assert sizes == [200, 100, 100]
    assert torch.bincount(a.data.train.y).tolist() == [20] * 10  # stratified
    assert not torch.equal(a.data.train.x, b.data.train.x)
    assert a.dim == 25_450 and float(a.data.train.x.max()) <= 1.0


def test_idx_folder_with_train_files_uses_official_test_set(tmp_path: Path) -> None:
    fake_mnist(tmp_path, 600, "train")
    fake_mnist(tmp_path, 150, "t10k")
    params = {"root": str(tmp_path), "n_train": 300, "n_val": 100}
    problem = problems.get("mnist-mlp").from_config(params, 0, torch.device("cpu"))
    assert [problem.data.split(s).y.numel() for s in ("train", "val", "test")] == [300, 100, 150]


def test_missing_mnist_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no MNIST IDX files in .*download: true"):
        problems.get("mnist-mlp").Params(root=tmp_path / "nowhere")


@needs_mnist
def test_real_mnist_test_set_is_split_5000_2500_2500() -> None:
    problem = build("mnist-mlp")
    assert [problem.data.split(s).y.numel() for s in ("train", "val", "test")] == [5000, 2500, 2500]
    from dfo_bench.problems.mnist import read_idx

    everything = np.bincount(read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz"), minlength=10)
    counts = torch.bincount(problem.data.train.y, minlength=10).numpy()
    assert np.abs(counts - everything / 2).max() <= 1  # stratified: class proportions kept
    assert 0.05 < problem.metrics(problem.initial_point(), "test")["accuracy"] < 0.25
