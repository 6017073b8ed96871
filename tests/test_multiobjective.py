"""Multi-objective problems, optimizers, stored fronts and their report, on real (tiny) runs."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.metrics import precision_score, recall_score

from dfo_bench.budget import BudgetLimits
from dfo_bench.errors import ConfigError
from dfo_bench.optimizers.base import SearchDomain
from dfo_bench.optimizers.box import augmented_chebyshev
from dfo_bench.pareto import ParetoFront, front_from_json, hypervolume, non_dominated
from dfo_bench.problems.scoring import macro_precision_recall
from dfo_bench.registry import optimizers, problems
from dfo_bench.report import build_report
from dfo_bench.space_config import BlockSpaceConfig
from dfo_bench.store import ResultStore
from dfo_bench.suite import load_suite
from dfo_bench.testing import check_deterministic, run_ok, run_spec

from .test_problems import config

MO_OPTIMIZERS = [name for name in optimizers.names() if optimizers.get(name).objectives != 1 and "weights" in optimizers.get(name).search_kinds]
"""Multi-objective optimizers of weights (typed-only ones, Optuna's samplers: tests/test_mo_hpo.py)."""
GP_OPTIMIZERS = [name for name in MO_OPTIMIZERS if optimizers.get(name).max_dim is not None]


def _multi_objective_params(name: str) -> dict[str, Any] | None:
    """Parameters that give the registered problem ``name`` several objectives, or None if none do."""
    cls = problems.get(name)
    if cls.n_objectives > 1:
        return {}
    field = cls.Params.model_fields.get("objective")
    if field is not None and "precision-recall" in typing.get_args(field.annotation):
        return {"objective": "precision-recall"}
    return None


MO_PROBLEMS = [name for name in problems.names() if _multi_objective_params(name) is not None]


def mo_spec(optimizer: str, problem: str = "zdt1", evaluations: int = 30, seed: int = 0, **params: Any):
    """A run of ``optimizer`` on the multi-objective form of ``problem``; GP methods search 16 blocks of network weights."""
    problem_params = {**config(problem), **(_multi_objective_params(problem) or {})}
    space = BlockSpaceConfig(kind="blocks", n_bins=16) if optimizer in GP_OPTIMIZERS and problems.get(problem).has_data else None
    return run_spec(
        optimizer,
        params or None,
        problem=problem,
        problem_params=problem_params,
        seed=seed,
        budget=BudgetLimits(evaluations=evaluations),
        space=space,
    )


def test_registry_has_the_multi_objective_methods_and_problems() -> None:
    assert {"nsga2", "parego", "mobo-ars", "random-box"} <= set(MO_OPTIMIZERS)
    assert {"parego", "mobo-ars"} <= set(GP_OPTIMIZERS)
    assert {"zdt1", "digits-mlp", "mnist-mlp", "cifar10-resnet18"} <= set(MO_PROBLEMS)


def test_hypervolume_equals_the_hand_computed_area() -> None:
    # Reference (1, 1): [0.5, 1]² is 0.25, [0.25, 1] x [0.75, 1] adds 0.25 · 0.25 = 0.0625;
    # (2, 0.1) lies outside the reference box and adds nothing.
    points = np.array([[0.5, 0.5], [0.25, 0.75], [2.0, 0.1]])
    assert hypervolume(points, (1.0, 1.0)) == pytest.approx(0.3125)
    assert hypervolume(np.array([[0.0, 0.0]]), (2.0, 3.0)) == pytest.approx(6.0)
    assert hypervolume(np.empty((0, 2)), (1.0, 1.0)) == 0.0
    # A dominated point changes nothing.
    assert hypervolume(np.vstack([points, [[0.6, 0.6]]]), (1.0, 1.0)) == pytest.approx(0.3125)


def test_front_keeps_exactly_the_non_dominated_points() -> None:
    front = ParetoFront(2)
    front.update(np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 3.0]]))
    front.update(np.array([[2.0, 2.0], [0.5, 4.0], [1.5, 1.5], [np.nan, 0.0]]))
    assert front.points.tolist() == [[0.5, 4.0], [1.0, 3.0], [1.5, 1.5]]
    assert front_from_json(front.to_json()).tolist() == front.points.tolist()
    assert sorted(non_dominated(np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 2.0]])).tolist()) in ([0, 2], [1, 2])


def test_augmented_chebyshev_matches_its_formula() -> None:
    F, w = np.array([[0.2, 0.6], [0.5, 0.1]]), np.array([0.25, 0.75])
    expected = [max(0.05, 0.45) + 0.05 * 0.5, max(0.125, 0.075) + 0.05 * 0.2]
    assert augmented_chebyshev(F, w).tolist() == pytest.approx(expected)


def test_macro_precision_recall_matches_scikit_learn() -> None:
    g = torch.Generator().manual_seed(0)
    target, pred = torch.randint(0, 5, (80,), generator=g), torch.randint(0, 6, (4, 80), generator=g)
    ours = macro_precision_recall(pred, target, 7)
    for row, (p, r) in zip(pred, ours.tolist(), strict=True):
        assert p == pytest.approx(precision_score(target, row, average="macro", zero_division=0))
        assert r == pytest.approx(recall_score(target, row, average="macro", zero_division=0))


def test_precision_recall_objective_gives_two_losses_in_the_unit_square() -> None:
    problem = problems.get("digits-mlp").from_config({"objective": "precision-recall"}, 0, torch.device("cpu"))
    assert problem.objectives == 2 and problem.reference_point == (1.0, 1.0)
    X = problem.initial_point() + 0.05 * torch.randn(3, problem.dim, generator=torch.Generator().manual_seed(0))
    losses = problem.evaluate(X)
    assert losses.shape == (3, 2) and bool(((losses >= 0) & (losses <= 1)).all())
    metrics = problem.metrics(X[0], "train")
    assert losses[0].tolist() == pytest.approx([1 - metrics["precision"], 1 - metrics["recall"]], abs=1e-6)


def test_zdt1_is_pymoo_zdt1_on_the_unit_box() -> None:
    from pymoo.problems.multi.zdt import ZDT1

    problem = problems.get("zdt1").from_config({}, 0, torch.device("cpu"))
    assert (problem.dim, problem.bounds_of(problem.params), problem.reference_point, problem.has_data) == (30, (0.0, 1.0), (11.0, 11.0), False)
    X = torch.rand(5, 30, generator=torch.Generator().manual_seed(0), dtype=torch.float64).float()
    expected = ZDT1().evaluate(X.double().numpy(), return_values_of=["F"])
    np.testing.assert_allclose(problem.evaluate(X).numpy(), expected, rtol=1e-12)
    on_front = torch.zeros(1, 30)
    on_front[0, 0] = 0.25
    assert problem.evaluate(on_front)[0].tolist() == pytest.approx([0.25, 0.5])


@pytest.mark.parametrize("problem", MO_PROBLEMS)
@pytest.mark.parametrize("optimizer", MO_OPTIMIZERS)
def test_every_mo_optimizer_runs_every_mo_problem(optimizer: str, problem: str) -> None:
    evaluations = 25
    params = {"initial": 8} if optimizer in GP_OPTIMIZERS else {}
    result = run_ok(mo_spec(optimizer, problem, evaluations, **params))
    last = result.trace[-1]
    assert last["evaluations"] == evaluations
    assert result.reference_point is not None and len(result.reference_point) == 2
    front = front_from_json(last["pareto_front"])
    assert front.shape[1] == 2 and len(front) >= 1
    assert last["hypervolume"] == pytest.approx(hypervolume(front, result.reference_point))
    assert last["hypervolume"] >= result.trace[1]["hypervolume"] >= 0  # the attained front only grows
    assert "best_seen_loss_0" in last and "best_seen_loss_1" in last


def _final_hypervolume(optimizer: str, seed: int) -> float:
    return run_ok(mo_spec(optimizer, "zdt1", 60, seed)).trace[-1]["hypervolume"]


def test_parego_and_mobo_ars_beat_random_search_on_zdt1() -> None:
    # 60 evaluations (20 of them the initial design), two seeds; HV from (11, 11), the true front's is 120.67.
    for seed in (0, 1):
        random = _final_hypervolume("random-box", seed)
        for method in ("parego", "mobo-ars"):
            assert _final_hypervolume(method, seed) > random + 3, f"{method} no better than random search on seed {seed}"


@pytest.mark.parametrize("optimizer", MO_OPTIMIZERS)
def test_same_seed_same_results(optimizer: str) -> None:
    check_deterministic(
        mo_spec(optimizer, "zdt1", 26, initial=10) if optimizer in GP_OPTIMIZERS else mo_spec(optimizer, "zdt1", 26)
    )


@pytest.mark.parametrize("optimizer", GP_OPTIMIZERS)
def test_gaussian_process_methods_keep_the_contract(optimizer: str) -> None:
    """What ``test_optimizers`` checks on the digits MLP, on a box they can model: the budget to the
    evaluation, a recommendation of the right shape that improves on a one-objective function."""
    result = run_ok(mo_spec(optimizer, "zdt1", 23, initial=10))
    assert result.trace[-1]["evaluations"] == 23
    sphere = run_ok(
        run_spec(optimizer, {"initial": 10}, problem="sphere", problem_params={"dim": 5}, budget=BudgetLimits(evaluations=30))
    )
    assert sphere.trace[-1]["train_loss"] < sphere.trace[0]["train_loss"]
    with pytest.raises(ValueError, match="no_such_parameter"):
        optimizers.get(optimizer).Params(no_such_parameter=1)


@pytest.mark.parametrize("optimizer", GP_OPTIMIZERS)
def test_too_many_coordinates_are_refused_with_the_fix(optimizer: str) -> None:
    with pytest.raises(ValueError, match="blocks"):
        optimizers.get(optimizer).from_config(SearchDomain(torch.zeros(51)), np.random.default_rng(0), {})


def _suite(write_suite, optimizer: Any, problem: Any) -> Path:
    return write_suite({"problems": [problem], "optimizers": [optimizer], "seeds": [0], "budget": {"evaluations": 10}})


def test_single_objective_optimizer_is_rejected_for_a_multi_objective_problem(write_suite) -> None:
    pr = {"name": "digits-mlp", "params": {"objective": "precision-recall"}}
    for problem in (pr, "zdt1"):
        with pytest.raises(ConfigError, match=r"'de' minimises one objective, .* has 2; allowed: .*nsga2"):
            load_suite(_suite(write_suite, "de", problem))
    assert len(load_suite(_suite(write_suite, "nsga2", pr)).runs) == 1


def test_gaussian_process_methods_need_a_small_space_at_validation(write_suite) -> None:
    pr = {"name": "digits-mlp", "params": {"objective": "precision-recall"}}
    with pytest.raises(ConfigError, match=r"optimizers\[0\]\.space: parego .* at most 50, got one coordinate per weight"):
        load_suite(_suite(write_suite, "parego", pr))
    with pytest.raises(ConfigError, match="n_bins 64"):
        load_suite(_suite(write_suite, {"name": "mobo-ars", "space": {"kind": "blocks", "n_bins": 64}}, pr))
    with pytest.raises(ConfigError, match="got 60 coordinates"):
        load_suite(_suite(write_suite, "parego", {"name": "zdt1", "params": {"dim": 60}}))
    assert load_suite(_suite(write_suite, {"name": "parego", "space": {"kind": "blocks", "n_bins": 32}}, pr)).runs


def test_report_shows_hypervolume_and_fronts(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results")
    for optimizer in ("random-box", "nsga2"):
        for seed in (0, 1):
            store.write(run_ok(mo_spec(optimizer, "zdt1", 24, seed)))
    frame = store.load()
    assert frame["reference_point"].dropna().unique().tolist() == ["[11.0, 11.0]"]
    build_report(tmp_path / "results", tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    assert "### Pareto fronts and hypervolume" in text and "reference point (11, 11)" in text
    for stem in ("zdt1-hypervolume-vs-evaluations", "zdt1-front-median-seed", "zdt1-front-all-seeds"):
        assert (tmp_path / "report" / f"{stem}.png").stat().st_size > 0
    assert "Pareto fronts and hypervolume" in (tmp_path / "report" / "report.html").read_text()


def test_single_objective_results_keep_their_columns() -> None:
    from dfo_bench.store import to_frame

    frame = to_frame(run_ok(run_spec("random-search", problem="sphere", budget=BudgetLimits(evaluations=40))))
    assert not {"reference_point", "hypervolume", "pareto_front", "final_hypervolume"} & set(frame.columns)
    assert "best_seen_loss" in frame.columns


def test_precision_recall_on_super_batches_is_charged_per_candidate() -> None:
    from dfo_bench.budget import Budget
    from dfo_bench.objective import Objective
    from dfo_bench.spaces import FullSpace

    problem = problems.get("digits-mlp").from_config({"objective": "precision-recall"}, 0, torch.device("cpu"))
    x0 = problem.initial_point()
    objective = Objective(problem, FullSpace(x0), Budget(BudgetLimits()), super_batch=100)
    losses = objective.evaluate(x0.expand(4, -1).clone())
    assert losses.shape == (4, 2) and torch.equal(losses[0], losses[3])  # the same batch for the population
    assert objective.budget.usage.samples == 400 and objective.front is not None and len(objective.front.points) == 1


def test_box_comes_from_params_then_problem_then_radius() -> None:
    x0 = torch.full((6,), 0.5)
    box = optimizers.get("random-box")
    given = box.from_config(SearchDomain(x0, bounds=(0.0, 1.0)), np.random.default_rng(0), {"bounds": (0.2, 0.3), "popsize": 50})
    X = given.ask()
    assert float(X.min()) >= 0.2 - 1e-6 and float(X.max()) <= 0.3 + 1e-6  # x0 itself, 0.5, moved into the box (float32)
    problem = box.from_config(SearchDomain(x0, bounds=(0.0, 1.0)), np.random.default_rng(0), {"popsize": 50})
    assert float(problem.ask().max()) > 0.9
    around = box.from_config(SearchDomain(x0), np.random.default_rng(0), {"popsize": 50, "radius": 0.01})
    X = around.ask()
    assert float((X - 0.5).abs().max()) <= 0.01 + 1e-6 and torch.equal(X[0], x0)
