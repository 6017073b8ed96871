"""mo-hpo: mlp-hpo with two objectives (validation loss, network size), searched by the box methods
through the typed domain's unit box."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dfo_bench.budget import BudgetLimits
from dfo_bench.errors import ConfigError
from dfo_bench.optimizers.base import SearchDomain
from dfo_bench.optimizers.box import BoxOptimizer
from dfo_bench.pareto import front_from_json, hypervolume
from dfo_bench.problems import mlp_hpo
from dfo_bench.problems.mlp_hpo import DOMAIN, MLPHPO
from dfo_bench.registry import optimizers, problems
from dfo_bench.suite import load_suite
from dfo_bench.testing import run_ok, run_spec

CPU = torch.device("cpu")
TINY = {"epochs": 1, "n_train": 64, "n_val": 32, "n_test": 32}
TWO = TINY | {"objective": "loss-size"}
BOX_OPTIMIZERS = sorted(n for n in optimizers.names() if issubclass(optimizers.get(n), BoxOptimizer))
SMALL: dict[str, dict[str, Any]] = {
    "nsga2": {"popsize": 4},
    "parego": {"initial": 4, "samples": 100},
    "mobo-ars": {"initial": 4, "iterations": 2},
    "random-box": {"popsize": 4},
}
CONFIG = {"layers": 2, "neurons": 40, "activation": "tanh", "dropout": 0.2}


def test_the_box_methods_are_the_multi_objective_ones_and_search_typed_domains() -> None:
    assert BOX_OPTIMIZERS == sorted(SMALL)
    for name in BOX_OPTIMIZERS:
        assert optimizers.get(name).search_kinds == {"weights", "typed"}


@pytest.mark.parametrize("name", BOX_OPTIMIZERS)
def test_every_box_optimizer_runs_the_two_objective_problem(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    trained: list[dict[str, Any]] = []
    train = MLPHPO._train

    def recording(self: MLPHPO, config: dict[str, Any], count: bool) -> dict[str, dict[str, float]]:
        if count:
            trained.append(config)
        return train(self, config, count)

    monkeypatch.setattr(MLPHPO, "_train", recording)
    result = run_ok(run_spec(name, SMALL[name], "mlp-hpo", TWO, budget=BudgetLimits(evaluations=10)))
    assert result.reference_point == [1.0, 1.0]
    # every configuration trained is one of the domain, and they cover it (not x0 ± radius around the default)
    assert 8 <= len(trained) <= 10  # repeated configurations are trained once
    for config in trained:
        assert DOMAIN.decode(DOMAIN.encode(config)) == config
    assert len({c["layers"] for c in trained}) >= 2 and max(c["neurons"] for c in trained) - min(c["neurons"] for c in trained) > 10
    # hypervolume: on every checkpoint, from the stored front and the reference point, never falling
    hv = [row["hypervolume"] for row in result.trace]
    assert all(math.isfinite(v) and v >= 0 for v in hv) and hv == sorted(hv) and hv[-1] > 0
    last = result.trace[-1]
    front = front_from_json(last["pareto_front"])
    assert front.shape[1] == 2 and last["hypervolume"] == pytest.approx(hypervolume(front, (1.0, 1.0)))
    assert ((front[:, 1] >= 0) & (front[:, 1] <= 1)).all()
    # the recommendation is a configuration it trained, on the front, measured with its size
    config = json.loads(last["config"])
    assert config in trained
    assert [last["val_loss"], last["val_size"]] in front.tolist() or any(
        np.allclose(p, [last["val_loss"], last["val_size"]], rtol=1e-6) for p in front
    )
    assert last["val_parameters"] == MLPHPO.from_config(TWO, 0, CPU).parameters(config)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", BOX_OPTIMIZERS)
def test_a_box_optimizer_on_a_typed_domain_asks_canonical_configurations(name: str) -> None:
    x0 = DOMAIN.encode(DOMAIN.default)
    optimizer = optimizers.get(name).from_config(SearchDomain(x0, typed=DOMAIN), np.random.default_rng(0), SMALL[name])
    assert isinstance(optimizer, BoxOptimizer)
    X = optimizer.ask()
    assert torch.equal(DOMAIN.canonical(X), X) and torch.equal(X[0], x0)  # the default first, as x0 is for weights
    losses = torch.stack([X[:, 0], -X[:, 1]], dim=1)  # fewer layers, more neurons: a front of several points
    optimizer.tell(X, losses)
    assert any(torch.equal(optimizer.recommend(), x) for x in X)
    with pytest.raises(ValueError, match="bounds are not taken on a typed space"):
        optimizers.get(name).from_config(SearchDomain(x0, typed=DOMAIN), np.random.default_rng(0), SMALL[name] | {"bounds": (0, 1)})


def test_the_objectives_are_the_validation_loss_and_the_real_parameter_count() -> None:
    two = problems.get("mlp-hpo").from_config(TWO, 3, CPU)
    one = problems.get("mlp-hpo").from_config(TINY, 3, CPU)
    assert isinstance(two, MLPHPO) and isinstance(one, MLPHPO)
    # sine waves: 5 inputs, one output; two hidden layers of 40: (5 + 1)·40 + (40 + 1)·40 + (40 + 1)·1, counted by hand
    assert two.parameters(CONFIG) == 1921
    for config in [CONFIG, DOMAIN.default, *(DOMAIN.decode(x) for x in DOMAIN.sample(5, np.random.default_rng(0)))]:
        layers = mlp_hpo._init(two._sizes(config), torch.Generator().manual_seed(0), CPU)
        assert two.parameters(config) == sum(t.numel() for layer in layers for t in layer)
    smallest = {"layers": 1, "neurons": 16, "activation": "relu", "dropout": 0.0}
    largest = {"layers": 5, "neurons": 128, "activation": "relu", "dropout": 0.0}
    X = torch.stack([DOMAIN.encode(CONFIG), DOMAIN.encode(smallest), DOMAIN.encode(largest)])
    F = two.evaluate(X)
    assert F.shape == (3, 2)
    assert F[:, 0].tolist() == one.evaluate(X).tolist()  # the same trainings and losses as one objective
    expected = math.log(1921 / two.parameters(smallest)) / math.log(two.parameters(largest) / two.parameters(smallest))
    assert F[:, 1].tolist() == pytest.approx([expected, 0.0, 1.0], abs=1e-6)
    assert two.metrics(X[0], "test")["parameters"] == 1921


def test_reference_points_and_objective_counts() -> None:
    assert MLPHPO.objectives_of(MLPHPO.Params(objective="loss-size")) == 2 and MLPHPO.objectives_of(MLPHPO.Params()) == 1
    assert problems.get("mlp-hpo").from_config(TWO, 0, CPU).reference_point == (1.0, 1.0)
    digits = problems.get("mlp-hpo").from_config({"dataset": "digits", "epochs": 1, "objective": "loss-size"}, 0, CPU)
    assert digits.reference_point == (math.log(10), 1.0)  # the cross-entropy of the uniform guess
    assert problems.get("mlp-hpo").from_config(TINY, 0, CPU).reference_point is None


def test_the_single_objective_problem_is_unchanged() -> None:
    """Losses measured on main before ``objective`` existed (float hex, as recorded on that machine),
    and the run identity without it. Relative 1e-5: another CPU or BLAS build moves these float32
    losses by about 1e-7 (a few last bits); another seed, epoch count or dropout moves them by > 10 %."""
    problem = problems.get("mlp-hpo").from_config(TINY, 3, CPU)
    losses = problem.evaluate(torch.stack([DOMAIN.encode(CONFIG), DOMAIN.encode(DOMAIN.default)]))
    assert losses.shape == (2,)
    recorded = [float.fromhex("0x1.e0cfbcp-5"), float.fromhex("0x1.e321c8p-4")]
    assert losses.tolist() == pytest.approx(recorded, rel=1e-5)
    assert problem.params.identity() == TINY and "objective" not in MLPHPO.Params(dataset="digits").identity()
    assert set(problem.metrics(DOMAIN.encode(CONFIG), "val")) == {"loss"}


def _suite(write_suite, optimizer: Any, objective: str | None = "loss-size") -> Path:
    params = {"epochs": 1} | ({"objective": objective} if objective else {})
    return write_suite(
        {"problems": [{"name": "mlp-hpo", "params": params}], "optimizers": [optimizer], "seeds": [0], "budget": {"evaluations": 10}}
    )


def test_validation_pairs_the_box_methods_with_typed_problems(write_suite) -> None:
    for name in BOX_OPTIMIZERS:  # the GP methods too: the domain has 4 coordinates
        assert len(load_suite(_suite(write_suite, name)).runs) == 1
        assert len(load_suite(_suite(write_suite, name, objective=None)).runs) == 1
    with pytest.raises(ConfigError, match=r"'de' cannot search the typed space .* allowed: .*nsga2.*random-box"):
        load_suite(_suite(write_suite, "de"))
    with pytest.raises(ConfigError, match=r"'ga-hpo' minimises one objective, problem 'mlp-hpo\[.*\]' has 2; allowed: mobo-ars, nsga2, optuna, parego, random-box$"):
        load_suite(_suite(write_suite, "ga-hpo"))
    with pytest.raises(ConfigError, match="searches configurations, not weights; remove space"):
        load_suite(_suite(write_suite, {"name": "parego", "space": {"kind": "blocks", "n_bins": 4}}))


def test_shipped_mo_hpo_suite_validates() -> None:
    loaded = load_suite(Path(__file__).resolve().parents[1] / "suites" / "mo-hpo.yaml")
    assert len(loaded.runs) == 20 and {r.optimizer.name for r in loaded.runs} == set(BOX_OPTIMIZERS)
    assert {r.budget.evaluations for r in loaded.runs} == {150}
    assert {MLPHPO.objectives_of(r.problem.params) for r in loaded.runs} == {2}


@pytest.mark.parametrize("sampler", ["tpe", "gp", "random"])
def test_optuna_runs_the_two_objective_problem_as_a_multi_objective_study(sampler: str) -> None:
    spec = run_spec("optuna", {"sampler": sampler, "popsize": 2, "n_startup_trials": 4}, "mlp-hpo", TWO, budget=BudgetLimits(evaluations=10))
    result = run_ok(spec)
    hv = [row["hypervolume"] for row in result.trace]
    assert hv == sorted(hv) and hv[-1] > 0
    front = front_from_json(result.trace[-1]["pareto_front"])
    assert front.shape[1] == 2
    twice = run_ok(spec)  # the same seed, the same study: the replayed first generation keeps it seeded
    assert [row["hypervolume"] for row in twice.trace] == hv


def test_optuna_multi_objective_study_has_a_direction_per_objective() -> None:
    optimizer = optimizers.get("optuna").from_config(SearchDomain(DOMAIN.encode(DOMAIN.default), typed=DOMAIN), np.random.default_rng(0), {"popsize": 3})
    X = optimizer.ask()
    optimizer.tell(X, torch.tensor([[0.5, 0.2], [0.4, 0.9], [0.7, 0.1]]))
    study = optimizer._study  # type: ignore[attr-defined]
    assert len(study.directions) == 2 and len(study.trials) == 3
    assert [t.values for t in study.trials] == [pytest.approx(v) for v in ([0.5, 0.2], [0.4, 0.9], [0.7, 0.1])]
    optimizer.tell(X2 := optimizer.ask(), torch.tensor([[0.3, 0.3], [0.2, 0.2], [0.1, 0.1]]))
    assert len(study.trials) == 6 and X2.shape == X.shape
