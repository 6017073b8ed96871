"""Every registered problem against the same contract, plus the MLP and MNIST specifics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from dfo_bench.budget import Budget, BudgetLimits
from dfo_bench.conformance import ProblemCase, ProblemTestCase
from dfo_bench.objective import Objective
from dfo_bench.problems.data import CircularBatches
from dfo_bench.problems.metrics import CLASSIFICATION, RETURN
from dfo_bench.problems.rl.base import RolloutProblem
from dfo_bench.problems.scoring import macro_f1
from dfo_bench.registry import problems
from dfo_bench.spaces import FullSpace
from dfo_bench.testing import searching

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


class TestEveryProblem(ProblemTestCase):
    """The kit's checks over every problem of weights, with parameters this machine can satisfy."""

    @pytest.fixture(params=WEIGHT_PROBLEMS)
    def case(self, request: pytest.FixtureRequest) -> ProblemCase:
        return ProblemCase(request.param, config(request.param))


@pytest.mark.parametrize("name", ["digits-mlp", "mnist-mlp", "cifar10-resnet18"])
def test_built_ins_know_their_training_set_size_from_the_parameters(name: str) -> None:
    """What a suite checks super-batches and minibatches against before anything loads."""
    problem = build(name)
    assert type(problem).train_size_of(problem.params) == problem.train_size


@pytest.mark.parametrize("name", WEIGHT_PROBLEMS)
def test_classifiers_report_accuracy_and_f1_and_functions_their_value(name: str) -> None:
    problem = build(name)
    for split in ("train", "val", "test"):
        m = problem.metrics(problem.initial_point(), split)
        if isinstance(problem, RolloutProblem):  # a control task: its mean return, the loss its negative
            assert problem.reported_metrics == (RETURN,) and m["loss"] == -m["return"]
            continue
        if not problem.has_data:  # a test function: its value, or its objectives objective_1, ...
            assert min(m.values()) >= 0
            continue
        assert problem.reported_metrics == CLASSIFICATION and m["loss"] > 0


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
