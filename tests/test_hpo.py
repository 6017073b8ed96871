"""Typed domains, the mlp-hpo problem, ga-hpo and the baselines that search typed domains."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from dfo_bench.budget import Budget, BudgetLimits
from dfo_bench.domain import TypedDomain
from dfo_bench.errors import ConfigError
from dfo_bench.objective import Objective
from dfo_bench.optimizers.base import SearchDomain
from dfo_bench.optimizers.ga_hpo import GAHPO, activation_mutation
from dfo_bench.problems.mlp_hpo import DOMAIN
from dfo_bench.ranges import choice, integers, log_float, log_int, uniform
from dfo_bench.registry import optimizers, problems
from dfo_bench.spaces import FullSpace
from dfo_bench.suite import load_suite
from dfo_bench.testing import check_deterministic, comparable, run_ok, run_spec, searching

from .conftest import CLI, SHARED_MNIST, cli_env, with_changes

CPU = torch.device("cpu")
TINY = {"epochs": 1, "n_train": 64, "n_val": 32, "n_test": 32}
"""mlp-hpo on the sine waves, trained for one epoch of 64 samples: a run of a few evaluations in seconds."""
TYPED_OPTIMIZERS = searching("typed")
TYPED_PROBLEMS = searching("typed", "problems")
FAST = {
    "nevergrad": {"popsize": 2}, "optuna": {"n_startup_trials": 2}, "random-search": {"popsize": 2}, "pymoo": {"popsize": 4},
    "nsga2": {"popsize": 4}, "parego": {"initial": 4, "samples": 100}, "mobo-ars": {"initial": 4, "iterations": 2}, "random-box": {"popsize": 3},
}

HOPS_FROM = {
    "relu": {"leaky_relu": 2, "elu": 4, "gelu": 4, "tanh": 5, "sigmoid": 5},
    "tanh": {"sigmoid": 2, "relu": 5, "leaky_relu": 5, "elu": 5, "gelu": 5},
    "gelu": {"elu": 2, "relu": 4, "leaky_relu": 4, "tanh": 5, "sigmoid": 5},
}
"""Edges between leaves of the activation tree in ga_hpo's docstring, counted by hand."""


def problem_params(name: str, dataset: str = "sinewave") -> dict[str, Any]:
    if name != "mlp-hpo":
        return {}
    if dataset == "digits":
        return {"dataset": "digits", "epochs": 1, "n_val": 100, "n_test": 100}
    if dataset == "mnist":
        if not SHARED_MNIST.is_dir():
            pytest.skip(f"no MNIST files in {SHARED_MNIST}")
        return {"dataset": "mnist", "root": str(SHARED_MNIST), "epochs": 1, "n_train": 200, "n_val": 100, "n_test": 100}
    return TINY


# --- the activation mutation ------------------------------------------------------------------


@pytest.mark.parametrize("base", [1.5, 2.0, 10.0])
@pytest.mark.parametrize("start", sorted(HOPS_FROM))
def test_activation_mutation_frequencies_match_the_formula(start: str, base: float) -> None:
    """p(a -> b) ∝ 2^(-log_base hops(a, b)), stay excluded: the GA's draws against the formula
    with hand-counted hops, every frequency within 4.5 binomial standard errors."""
    choices = DOMAIN["activation"].choices  # type: ignore[union-attr]
    weights = {b: 2.0 ** (-np.log(h) / np.log(base)) for b, h in HOPS_FROM[start].items()}
    expected = np.array([weights.get(b, 0.0) for b in choices]) / sum(weights.values())
    np.testing.assert_allclose(activation_mutation(start, choices, base), expected, rtol=1e-12)

    ga = GAHPO.from_config(SearchDomain(DOMAIN.encode(DOMAIN.default), typed=DOMAIN), np.random.default_rng(7), {"base": base})
    assert isinstance(ga, GAHPO)
    n = 20_000
    index = choices.index(start)
    draws = np.array([ga._mutate_choice(DOMAIN["activation"], index) for _ in range(n)])  # type: ignore[arg-type]
    frequencies = np.bincount(draws, minlength=len(choices)) / n
    assert frequencies[index] == 0, "a mutated activation always changes"
    error = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(frequencies - expected) <= 4.5 * error + 1e-12), (frequencies, expected)


def test_larger_base_explores_more() -> None:
    choices = DOMAIN["activation"].choices  # type: ignore[union-attr]
    near = [activation_mutation("relu", choices, base)[choices.index("leaky_relu")] for base in (1.5, 2.0, 10.0, 1e9)]
    assert near == sorted(near, reverse=True) and near[-1] == pytest.approx(1 / 5, abs=0.01)


# --- the typed domain ---------------------------------------------------------------------------

MIXED = TypedDomain(
    {"n": integers(-3, 4), "width": log_int(1, 1000), "lr": log_float(1e-5, 1.0), "p": uniform(0.0, 0.5), "kind": choice("a", "b", "c")},
    default={"n": 0, "width": 10, "lr": 1e-3, "p": 0.1, "kind": "b"},
)


@pytest.mark.parametrize("domain", [DOMAIN, MIXED], ids=["mlp-hpo", "mixed"])
def test_encode_decode_round_trips(domain: TypedDomain) -> None:
    X = domain.sample(500, np.random.default_rng(0))
    for x in X:
        config = domain.decode(x)
        assert torch.equal(domain.encode(config), x)
        assert domain.decode(domain.encode(config)) == config
    torch.testing.assert_close(domain.from_unit(domain.to_unit(X)), X, rtol=1e-6, atol=0)
    U = domain.to_unit(X)
    assert U.min() >= 0 and U.max() <= 1
    assert domain.decode(domain.encode(domain.default)) == domain.default


def test_decode_rounds_and_clips_into_the_domain() -> None:
    config = DOMAIN.decode(torch.tensor([7.4, 15.2, 5.6, -0.3]))
    assert config == {"layers": 5, "neurons": 16, "activation": "sigmoid", "dropout": 0.0}
    assert DOMAIN.decode(torch.tensor([2.6, 99.5, 0.2, 0.25])) == {"layers": 3, "neurons": 100, "activation": "relu", "dropout": 0.25}
    with pytest.raises(ValueError, match="activation"):
        DOMAIN.encode({"layers": 1, "neurons": 16, "activation": "swish", "dropout": 0.0})
    with pytest.raises(ValueError, match=r"neurons: 16\.5 is not an integer"):
        DOMAIN.encode({"layers": 1, "neurons": 16.5, "activation": "relu", "dropout": 0.0})


def test_unit_box_gives_every_integer_and_choice_an_equal_share() -> None:
    X = DOMAIN.from_unit(np.random.default_rng(1).random((60_000, DOMAIN.dim)))
    layers = np.bincount(X[:, 0].int().numpy())[1:]
    activations = np.bincount(X[:, 2].int().numpy())
    assert len(layers) == 5 and np.all(np.abs(layers / 60_000 - 1 / 5) < 0.01)
    assert len(activations) == 6 and np.all(np.abs(activations / 60_000 - 1 / 6) < 0.01)
    assert X[:, 1].min() == 16 and X[:, 1].max() == 128


# --- the problem ------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["sinewave", "digits", "mnist"])
def test_charged_samples_equal_the_trainings_samples(dataset: str) -> None:
    params = problem_params("mlp-hpo", dataset) | {"batch_size": 24}  # a last minibatch smaller than the rest
    problem = problems.get("mlp-hpo").from_config(params, 0, CPU)
    budget = Budget(BudgetLimits())
    objective = Objective(problem, FullSpace(problem.initial_point()), budget, super_batch=None)
    X = DOMAIN.sample(3, np.random.default_rng(0))
    losses = objective.evaluate(X)
    assert losses.shape == (3,) and torch.isfinite(losses).all()
    assert budget.usage.evaluations == 3
    assert budget.usage.samples == problem.trained_samples > 0  # type: ignore[attr-defined]
    problem.metrics(X[0], "test")  # a checkpoint's measurement is not a training that is charged
    assert budget.usage.samples == problem.trained_samples  # type: ignore[attr-defined]


def test_same_configuration_same_training_whoever_asks() -> None:
    x = DOMAIN.encode({"layers": 2, "neurons": 40, "activation": "tanh", "dropout": 0.2})
    a = problems.get("mlp-hpo").from_config(TINY, 3, CPU)
    b = problems.get("mlp-hpo").from_config(TINY, 3, CPU)
    other_seed = problems.get("mlp-hpo").from_config(TINY, 4, CPU)
    loss = float(a.evaluate(x.unsqueeze(0))[0])
    assert float(a.evaluate(torch.stack([DOMAIN.sample(1, np.random.default_rng(5))[0], x]))[1]) == loss
    assert b.metrics(x, "val")["loss"] == loss  # trained afresh for the measurement, same noise
    assert a.metrics(x, "val")["loss"] == loss
    assert float(other_seed.evaluate(x.unsqueeze(0))[0]) != loss


def test_classification_datasets_measure_accuracy_and_regression_only_loss() -> None:
    digits = problems.get("mlp-hpo").from_config(problem_params("mlp-hpo", "digits"), 0, CPU)
    sine = problems.get("mlp-hpo").from_config(TINY, 0, CPU)
    x = DOMAIN.encode(DOMAIN.default)
    assert set(digits.metrics(x, "test")) == {"loss", "accuracy", "f1"}
    assert set(sine.metrics(x, "test")) == {"loss"}


# --- optimizers that search typed domains -----------------------------------------------------


def test_the_baselines_search_typed_domains() -> None:
    assert {"ga-hpo", "optuna", "random-search", "nevergrad", "pymoo"} <= set(TYPED_OPTIMIZERS)
    assert "de" not in TYPED_OPTIMIZERS and "ga-hpo" not in searching("weights")
    assert TYPED_PROBLEMS and "mlp-hpo" in TYPED_PROBLEMS and "mlp-hpo" not in searching("weights", "problems")


@pytest.mark.parametrize("problem", TYPED_PROBLEMS)
@pytest.mark.parametrize("name", TYPED_OPTIMIZERS)
def test_every_typed_optimizer_runs_every_typed_problem(name: str, problem: str) -> None:
    spec = run_spec(name, FAST.get(name), problem, problem_params(problem), budget=BudgetLimits(evaluations=6))
    result = run_ok(spec)
    last = result.trace[-1]
    assert last["evaluations"] == 6
    domain = problems.get(problem).from_config(problem_params(problem), 0, CPU).domain  # type: ignore[attr-defined]
    config = json.loads(last["config"])
    assert domain.decode(domain.encode(config)) == config
    assert last["val_loss"] <= result.trace[0]["val_loss"] or len({row["config"] for row in result.trace}) > 1


@pytest.mark.parametrize(
    "name, params",
    [("ga-hpo", {}), ("optuna", {"sampler": "tpe", "n_startup_trials": 3}), ("optuna", {"sampler": "gp", "n_startup_trials": 3}),
     ("random-search", {"popsize": 3}), ("nevergrad", {"popsize": 3}), ("pymoo", {"popsize": 4, "algorithm": "DE"})],
)
def test_same_seed_same_results(name: str, params: dict[str, Any]) -> None:
    check_deterministic(run_spec(name, params, "mlp-hpo", TINY, budget=BudgetLimits(evaluations=8)))


def test_ga_recommends_the_best_configuration_it_evaluated() -> None:
    result = run_ok(run_spec("ga-hpo", {}, "mlp-hpo", TINY, budget=BudgetLimits(evaluations=15)))
    vals = [row["val_loss"] for row in result.trace]
    assert vals[1:] == sorted(vals[1:], reverse=True), "the best so far never gets worse"
    assert comparable(result)[-1]["evaluations"] == 15


def test_ga_two_point_crossover_swaps_one_segment() -> None:
    ga = GAHPO.from_config(SearchDomain(DOMAIN.encode(DOMAIN.default), typed=DOMAIN), np.random.default_rng(0), {})
    assert isinstance(ga, GAHPO)
    a, b = np.zeros(4), np.ones(4)
    for _ in range(50):
        c, d = ga._cross(a, b)
        assert np.array_equal(c + d, np.ones(4))
        changes = np.flatnonzero(np.diff(np.r_[0, c, 0]))
        assert len(changes) == 2 and 0 < c.sum() < 4  # one contiguous block of 1..3 genes from the mate


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "problem, optimizer, words",
    [
        ("mlp-hpo", "de", ["'de' cannot search the typed space", "ga-hpo", "nevergrad", "optuna", "pymoo", "random-search"]),
        ("digits-mlp", "ga-hpo", ["'ga-hpo' cannot search the weights space", "de", "random-search"]),
        ("mlp-hpo", "adam", ["'adam' cannot search the typed space"]),
    ],
)
def test_mismatched_pairing_is_rejected_at_validation(write_suite, problem: str, optimizer: str, words: list[str]) -> None:
    path = write_suite(with_changes(problems=[problem], optimizers=["random-search", optimizer]))
    with pytest.raises(ConfigError) as error:
        load_suite(path)
    message = str(error.value)
    assert message.startswith(f"{path}: optimizers[1].name: ") and "\n" not in message
    for word in words:
        assert word in message
    allowed = message.split("allowed: ")[1].split(", ")
    assert ("ga-hpo" in allowed) == (problem == "mlp-hpo")


def test_mismatched_pairing_exits_2_from_the_cli(write_suite, tmp_path: Path) -> None:
    path = write_suite(with_changes(problems=["mlp-hpo"], optimizers=["cma-es"]))
    before = sorted(tmp_path.rglob("*"))
    done = subprocess.run([*CLI, "run", str(path), "--out", str(tmp_path / "out")], capture_output=True, text=True, env=cli_env())
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "optimizers[0].name" in done.stderr and "allowed: ga-hpo, mobo-ars, nevergrad, nsga2, optuna, parego, pymoo, random-box, random-search" in done.stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_typed_problem_refuses_weight_space_options(write_suite) -> None:
    path = write_suite(with_changes(problems=["mlp-hpo"], optimizers=[{"name": "random-search", "super_batch": 10}]))
    with pytest.raises(ConfigError, match=r"optimizers\[0\]\.super_batch: .* searches configurations"):
        load_suite(path)


@pytest.mark.parametrize("suite", ["hpo-sinewave", "hpo-mnist"])
def test_shipped_hpo_suites_validate(suite: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DFO_BENCH_DATA", str(SHARED_MNIST.parent))
    if suite == "hpo-mnist" and not SHARED_MNIST.is_dir():
        pytest.skip(f"no MNIST files in {SHARED_MNIST}")
    loaded = load_suite(Path(__file__).resolve().parents[1] / "suites" / f"{suite}.yaml")
    assert len(loaded.runs) == 20 and {r.optimizer.name for r in loaded.runs} == {"ga-hpo", "optuna", "random-search"}


def test_typed_optimizer_needs_its_space() -> None:
    with pytest.raises(ValueError, match="searches typed spaces, not weights"):
        optimizers.get("ga-hpo").from_config(SearchDomain(torch.zeros(4)), np.random.default_rng(0), {})


# --- the report ------------------------------------------------------------------------------


def test_report_shows_best_validation_curves_chosen_and_top_configurations(tmp_path: Path) -> None:
    from dfo_bench.report import build_report
    from dfo_bench.store import ResultStore

    store = ResultStore(tmp_path / "results")
    for name, params in [("ga-hpo", {}), ("random-search", {"popsize": 3})]:
        for seed in (0, 1):
            store.write(run_ok(run_spec(name, params, "mlp-hpo", TINY, seed=seed, budget=BudgetLimits(evaluations=6))))
    out = tmp_path / "report"
    build_report(tmp_path / "results", out)
    text = (out / "report.md").read_text()
    section = text.split("### Hyper-parameters")[1]
    assert "median final validation MSE" in section and "layers=" in section and "activation=" in section
    top = section.split("Top ")[1]
    shown = int(top.split()[0])
    assert 4 <= shown <= 10 and top.split("\n\n")[1].count("\n") == shown + 1  # header, rule, one row each
    assert "_GA (Pintus 2024 slides" in section and "_0.0004948_" in section  # the published sine-wave rows
    rows = top.split("\n\n")[1].splitlines()[2:]
    assert all(row.split(" | ")[3] != "0" for row in rows), "the start, before any evaluation, is no optimizer's choice"
    for x in ("evaluations", "samples"):
        assert (out / f"hpo-mlp-hpo-best-val-vs-{x}.png").is_file()
    assert "Hyper-parameters" in (out / "report.html").read_text()
    chosen = pd.read_csv(out / "hpo_configurations.csv")
    assert list(chosen["optimizer"]) == ["ga-hpo", "random-search"] and set(chosen["metric"]) == {"validation MSE"}
    assert all(json.loads(c).keys() == {"layers", "neurons", "activation", "dropout"} for c in chosen["config"])
