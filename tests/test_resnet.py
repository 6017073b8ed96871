"""ResNet-18 on CIFAR: the network, blocked candidates, the macro-F1 objective, pre-trained starts."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from sklearn.metrics import f1_score

from dfo_bench.executors import SequentialExecutor, run_suite
from dfo_bench.problems.cifar_data import normalise
from dfo_bench.problems.resnet import ResNet18
from dfo_bench.registry import problems
from dfo_bench.spaces import BlockSpace
from dfo_bench.store import ResultStore
from dfo_bench.suite import load_suite

from .conftest import fake_cifar_root

SMALL = {"n_train": 40, "n_val": 20, "n_test": 10, "width": 0.125, "super_batch": 40}


def small_problem(**params: object):
    config = {**SMALL, "root": str(fake_cifar_root()), **params}
    return problems.get("cifar10-resnet18").from_config(config, 0, torch.device("cpu"))


def test_cifar_resnet18_has_the_published_size() -> None:
    assert sum(p.numel() for p in ResNet18(10).parameters()) == 11_173_962
    assert sum(p.numel() for p in ResNet18(100).parameters()) == 11_220_132
    assert sum(p.numel() for p in ResNet18(10, width=0.5).parameters()) < 11_173_962 / 3


def test_blocked_candidates_reproduce_the_blocked_network() -> None:
    problem = small_problem()
    space = BlockSpace(problem.initial_point(), n_bins=300)
    Z = space.initial() + 0.01 * torch.randn(3, space.dim, generator=torch.Generator().manual_seed(0))
    W = space.to_weights(Z)
    module = copy.deepcopy(problem.net).eval()
    images = problem.images["train"]
    for w in W:
        torch.nn.utils.vector_to_parameters(w, module.parameters())
        with torch.no_grad():
            expected = module(normalise(images, "cifar10"))
        torch.testing.assert_close(problem.logits(w, images), expected, rtol=1e-4, atol=1e-5)
        # Every weight of a block carries the block's value.
        assert w.unique().numel() <= space.dim
    # vmap over the population gives the losses of the per-candidate loop.
    loop = problem.evaluate(W)
    vmapped = small_problem(population="vmap", objective="cross-entropy").evaluate(W)
    crossentropy = small_problem(objective="cross-entropy").evaluate(W)
    torch.testing.assert_close(vmapped, crossentropy, rtol=1e-4, atol=1e-5)
    assert loop.shape == (3,)


def test_initial_weights_are_pytorchs_default_initialisation_from_the_seed() -> None:
    from dfo_bench.seeding import derive_seed

    problem = small_problem()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(0, "cifar10-resnet18", "initial-point"))
        reference = ResNet18(10, width=0.125)
    state = torch.random.get_rng_state()
    assert torch.equal(problem.initial_point(), torch.nn.utils.parameters_to_vector(reference.parameters()))
    small_problem()  # building a problem leaves torch's global generator alone
    assert torch.equal(torch.random.get_rng_state(), state)


def test_macro_f1_objective_equals_scikit_learn() -> None:
    problem = small_problem()
    x = problem.initial_point() + 0.05 * torch.randn(problem.dim, generator=torch.Generator().manual_seed(1))
    loss = float(problem.evaluate(x.unsqueeze(0))[0])  # one super-batch = the whole training set
    with torch.no_grad():
        pred = problem.logits(x, problem.images["train"]).argmax(dim=1)
    expected = 1 - f1_score(problem.labels["train"].numpy(), pred.numpy(), average="macro")
    assert abs(loss - expected) < 1e-6


def test_pretraining_is_cached_with_its_batchnorm_statistics(write_suite, tmp_path: Path) -> None:
    problem = {"name": "cifar10-resnet18", "params": {**SMALL, "root": str(fake_cifar_root())}}
    pretrain = {"pretrain": {"optimizer": "adam", "params": {"batch_size": 20, "lr": 0.01}, "epochs": 2}}
    suite = {
        "problems": [{**problem, "init": pretrain, "label": "pretrained"}, {**problem, "label": "scratch"}],
        "optimizers": [{"name": "random-search", "params": {"popsize": 2}}, {"name": "de", "params": {"popsize": 4}}],
        "seeds": [0],
        "budget": {"evaluations": 8},
    }
    out = tmp_path / "results"
    assert {s.status for s in run_suite(load_suite(write_suite(suite)), out, SequentialExecutor(), progress=False)} == {"ok"}
    runs = ResultStore(out).load()
    start = runs[runs.checkpoint == 0].set_index(["problem_label", "optimizer"])
    pretrained = start.loc["pretrained"]
    assert pretrained.train_loss.nunique() == 1  # weights and BatchNorm statistics shared
    assert sorted(pretrained.pretrain_cached) == [False, True]
    assert (pretrained.pretrain_evaluations == 4).all()  # 2 epochs of 40 images in minibatches of 20
    assert not (pretrained.train_loss.iloc[0] == start.loc["scratch"].train_loss).any()
    cached = torch.load(next((out / "cache" / "pretrain").glob("*.pt")), weights_only=True)
    assert any(name.endswith("running_mean") for name in cached["state"])
    assert not torch.equal(cached["state"]["stem.1.running_mean"], torch.zeros_like(cached["state"]["stem.1.running_mean"]))
