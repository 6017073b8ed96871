"""Conformance checks for optimizers and problems, shipped so that plugin authors can reuse them
(the pytest classes a plugin's tests subclass, built on these: ``dfo_bench.conformance``).

Each check runs real runs through the real runner on a real problem (by default the embedded
digits MLP) and raises ``AssertionError`` with a message saying what a user would see go wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch

from dfo_bench.budget import Budget, BudgetLimits
from dfo_bench.objective import Objective
from dfo_bench.problems.rl.base import RolloutProblem
from dfo_bench.record import RunResult
from dfo_bench.runner import execute
from dfo_bench.settings import resolve_settings
from dfo_bench.space_config import SpaceConfig
from dfo_bench.spaces import FullSpace
from dfo_bench.spec import OptimizerSpec, ProblemSpec, RunSpec
from dfo_bench.store import ResultStore

MEASURED = (
    *("seconds", "final_seconds", "setup_seconds", "probe_gflops", "probe_gbps", "started_at"),
    *("evaluations_per_second", "peak_rss_bytes", "rss_increase_bytes", "peak_cuda_bytes"),
)
"""Stored columns measured on the machine at the moment (clock, speed probe, memory): the only
ones in which two runs of one spec may differ."""


def stored_outcomes(root: Path) -> pd.DataFrame:
    """Every trace row stored under ``root`` without the ``MEASURED`` columns, in (run, checkpoint)
    order: what runs of the same specs must agree on in any process or executor."""
    rows = ResultStore(root).load().drop(columns=list(MEASURED))
    return rows.sort_values(["run_id", "checkpoint"], ignore_index=True)


def searching(kind: str, registry: str = "optimizers") -> list[str]:
    """Registered optimizer names that search ``kind`` (``weights``, ``typed``, or ``environment``:
    the policy-gradient methods, which train a policy in a problem's environment), or with
    ``registry="problems"`` the problems of that kind; a name that fails to load counts as
    ``weights``, so the weight-space checks report its failure."""
    from dfo_bench.errors import DfoBenchError
    from dfo_bench.registry import optimizers, problems

    chosen = []
    for name in (optimizers if registry == "optimizers" else problems).names():
        try:
            cls = (optimizers if registry == "optimizers" else problems).get(name)
        except DfoBenchError:
            chosen += [name] if kind == "weights" else []
            continue
        kinds = getattr(cls, "search_kinds", None) or {getattr(cls, "search_kind", "weights")}
        if getattr(cls, "needs_environment", False):  # a policy-gradient method: an environment, not any weights
            kinds = {"environment"}
        chosen += [name] if kind in kinds else []
    return chosen


def run_spec(
    optimizer: str,
    optimizer_params: dict[str, Any] | None = None,
    problem: str = "digits-mlp",
    problem_params: dict[str, Any] | None = None,
    seed: int = 0,
    budget: BudgetLimits = BudgetLimits(evaluations=3000, samples=1_500_000),
    checkpoints: int = 20,
    space: SpaceConfig | None = None,
    super_batch: int | None = None,
) -> RunSpec:
    """A single run of ``optimizer`` on ``problem``, validated as a suite would validate it;
    ``space`` and ``super_batch`` default to the optimizer's own."""
    from dfo_bench.registry import optimizers, problems

    cls = optimizers.get(optimizer)
    problem_cls = problems.get(problem)
    problem_spec = ProblemSpec(
        name=problem, label=problem, params=problem_cls.Params(**(problem_params or {})), version=problem_cls.version
    )
    optimizer_spec = OptimizerSpec(
        name=optimizer,
        label=optimizer,
        params=cls.Params(**(optimizer_params or {})),
        version=cls.version,
        space=space or cls.default_space,
        super_batch=super_batch if super_batch is not None else cls.default_super_batch,
    )
    return RunSpec(
        suite="conformance",
        problem=problem_spec,
        optimizer=optimizer_spec,
        seed=seed,
        budget=budget,
        settings=resolve_settings(problem_spec, optimizer_spec),
        checkpoints=checkpoints,
        device="cpu",
        threads=1,
    )


def run_ok(spec: RunSpec) -> RunResult:
    result = execute(spec)
    assert result.error is None, f"{spec.run_id} failed: {result.error}"
    return result


def check_improves_within_budget(spec: RunSpec) -> RunResult:
    """The recommended point ends better than the initial one, and no limit is overspent."""
    result = run_ok(spec)
    first, last = result.trace[0], result.trace[-1]
    assert last["train_loss"] < first["train_loss"], (
        f"{spec.optimizer.label}: training loss {last['train_loss']:.4f} did not improve on the initial {first['train_loss']:.4f}"
    )
    for unit in ("evaluations", "samples"):
        limit = getattr(spec.budget, unit)
        if limit is not None:
            assert last[unit] <= limit, f"{spec.optimizer.label} spent {last[unit]} {unit}, budget {limit}"
    return result


def comparable(result: RunResult) -> list[dict[str, float]]:
    """The trace without wall-clock times, which legitimately differ between runs."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in result.trace]


def check_deterministic(spec: RunSpec) -> None:
    """Same seed → identical trace; another seed → a different one."""
    a, b = comparable(run_ok(spec)), comparable(run_ok(spec))
    assert a == b, f"{spec.optimizer.label}: two runs with seed {spec.seed} differ"
    c = comparable(run_ok(spec.model_copy(update={"seed": spec.seed + 1})))
    assert a != c, f"{spec.optimizer.label}: seeds {spec.seed} and {spec.seed + 1} gave identical runs"


def check_population_consistent(problem_name: str, params: dict[str, Any] | None = None, population: int = 5) -> None:
    """Evaluating a population through the objective equals evaluating its members one by one,
    and is charged exactly (one evaluation and the batch's samples per candidate)."""
    from dfo_bench.registry import problems

    cls = problems.get(problem_name)
    problem = cls.from_config(params or {}, 0, torch.device("cpu"))
    x0 = problem.initial_point()
    X = x0 + 0.05 * torch.randn(population, problem.dim, generator=torch.Generator().manual_seed(1))
    budget = Budget(BudgetLimits())
    objective = Objective(problem, FullSpace(x0), budget, cls.super_batch_of(problem.params))
    if isinstance(problem, RolloutProblem):  # the objective plays fresh episodes each call: compare on fixed ones
        together, alone = problem.evaluate(X), torch.cat([problem.evaluate(X[i : i + 1]) for i in range(population)])
        torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)
        objective.evaluate(X)
        assert budget.usage.evaluations == population and budget.episodes == population * problem.episodes_per_evaluation
        assert budget.usage.samples == budget.steps > 0, "every environment step is charged, as a sample too"
        return
    together = objective.evaluate(X)
    alone = torch.cat([objective.evaluate(X[i : i + 1]) for i in range(population)])
    assert together.shape[0] == population and together.device == problem.device
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)
    assert budget.usage.evaluations == 2 * population
    assert budget.usage.samples == 2 * population * objective.samples_per_evaluation
