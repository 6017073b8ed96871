"""Pairing checks: whether each problem can give what each optimizer entry needs.

A gradient, a training set to cut into super-batches, several objectives, a typed space of
hyper-parameters instead of weights, few enough coordinates for a Gaussian-process method,
enough training samples for each super-batch and minibatch, a budget that pays for at least one
evaluation: each mismatch is refused before anything runs, in one line naming both and what is
allowed, rather than failing (or doing nothing) when the run starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dfo_bench.budget import BudgetLimits
from dfo_bench.errors import ConfigError
from dfo_bench.optimizers.base import GradientOptimizer
from dfo_bench.optimizers.box import dimension_message
from dfo_bench.problems.base import DifferentiableProblem, Problem
from dfo_bench.problems.rl.base import RolloutProblem
from dfo_bench.registry import Registry, optimizers, problems
from dfo_bench.settings import resolve_settings
from dfo_bench.space_config import BlockSpaceConfig
from dfo_bench.spec import OptimizerSpec, ProblemSpec


def names_of(registry: Registry[Any], keep: Any) -> str:
    """The registered names whose class passes ``keep``: what an error lists as allowed."""
    return ", ".join(n for n in registry.names() if keep(registry.get(n))) or "none"


def check_pairing(path: Path, problem: type[Problem], p: ProblemSpec, o: OptimizerSpec, where: str) -> None:
    """Whether the problem can give what the optimizer needs; one line naming both if not."""
    cls = optimizers.get(o.name)
    kind = problem.search_kind
    if kind not in cls.search_kinds:
        able = names_of(optimizers, lambda c: kind in c.search_kinds)
        raise ConfigError(
            f"{path}: {where}.name: '{o.name}' cannot search the {kind} space of problem '{p.label}'; allowed: {able}"
        )
    if kind == "typed" and (o.super_batch is not None or o.space.kind != "full"):
        field = "super_batch" if o.super_batch is not None else "space"
        raise ConfigError(f"{path}: {where}.{field}: problem '{p.label}' searches configurations, not weights; remove {field}")
    if issubclass(cls, GradientOptimizer) and not issubclass(problem, DifferentiableProblem):
        raise ConfigError(f"{path}: {where}: '{o.name}' needs gradients, which problem '{p.label}' does not have")
    if getattr(cls, "needs_environment", False):
        fault = "it has no environment" if not issubclass(problem, RolloutProblem) else problem.policy_gradient_fault(p.params)
        if fault is not None:
            raise ConfigError(f"{path}: {where}: '{o.name}' trains a policy in an environment; problem '{p.label}': {fault}")
    if o.super_batch is not None and not problem.has_data:
        raise ConfigError(f"{path}: {where}.super_batch: problem '{p.label}' has no training set to cut into super-batches")
    n_objectives = problem.objectives_of(p.params)
    if cls.objectives == 1 and n_objectives > 1:
        many = names_of(optimizers, lambda c: c.objectives != 1)
        raise ConfigError(
            f"{path}: {where}: '{o.name}' minimises one objective, problem '{p.label}' has {n_objectives}; allowed: {many}"
        )
    if cls.max_dim is not None:
        _check_dimension(path, problem, p, o, where, cls.max_dim)
    rank = cls.low_rank_of(o.params)
    if rank is not None:
        _check_layout(path, problem, p, o, where, rank)


def _check_layout(path: Path, problem: type[Problem], p: ProblemSpec, o: OptimizerSpec, where: str, rank: int) -> None:
    """A low-rank optimizer perturbs the weight matrices the problem declares, in the full space,
    at a rank each matrix can take."""
    layout = problem.layout_of(p.params)
    if layout is None:
        able = names_of(problems, lambda c: c.has_layout)
        raise ConfigError(
            f"{path}: {where}.name: '{o.name}' perturbs weight matrices, problem '{p.label}' declares none; allowed: {able}"
        )
    if o.space.kind != "full":
        raise ConfigError(
            f"{path}: {where}.space: '{o.name}' perturbs weight matrices, so it searches the full space; remove space"
        )
    try:
        layout.check_rank(rank)
    except ValueError as error:
        raise ConfigError(f"{path}: {where}.params.rank: {error} (problem '{p.label}')") from None


def _check_dimension(path: Path, problem: type[Problem], p: ProblemSpec, o: OptimizerSpec, where: str, limit: int) -> None:
    """An optimizer limited to ``limit`` coordinates (a Gaussian-process method) against the space it
    would search: a blocks space has at most ``n_bins`` coordinates, a full one the problem's
    dimension where its parameters say it (test functions), else one per weight (networks: thousands)."""
    declared = problem.declared_dim(p.params)
    if isinstance(o.space, BlockSpaceConfig):
        bound = o.space.n_bins if declared is None else min(o.space.n_bins, declared)
        what = f"a blocks space of up to {bound} coordinates (n_bins {o.space.n_bins})"
    else:
        bound = declared if declared is not None else limit + 1
        what = f"{declared} coordinates" if declared is not None else f"one coordinate per weight of problem '{p.label}'"
    if bound > limit:
        raise ConfigError(f"{path}: {where}.space: {dimension_message(o.name, limit, what)}")


def check_sizes(
    path: Path, problem: type[Problem], p: ProblemSpec, o: OptimizerSpec, where: tuple[str, str], budgets: dict[str, BudgetLimits]
) -> None:
    """Whether the problem's training set holds the optimizer's super-batch or minibatch, and each
    budget (``budgets``: field -> limits) pays for one evaluation, where the validated parameters
    say it without loading data; ``where``: the problem's and the optimizer entry's fields."""
    cls = optimizers.get(o.name)
    n = problem.train_size_of(p.params)
    super_batch = resolve_settings(p, o).super_batch
    if n is not None and super_batch is not None and super_batch > n:
        field = f"{where[1]}.super_batch" if o.super_batch is not None else f"{where[0]}.params.super_batch"
        raise ConfigError(
            f"{path}: {field}: super-batches of {super_batch:,} samples, problem '{p.label}' trains on {n:,}; allowed: 1 to {n:,}"
        )
    batch = cls.batch_size_of(o.params) if issubclass(cls, GradientOptimizer) else None
    if n is not None and batch is not None and batch > n:
        raise ConfigError(
            f"{path}: {where[1]}.params.batch_size: minibatches of {batch:,} samples, problem '{p.label}' trains on {n:,}; "
            f"allowed: 1 to {n:,}"
        )
    cost = _evaluation_cost(problem, cls, n, super_batch, batch)
    for field, budget in budgets.items():
        _check_steps(path, problem, p, field, budget)
        if cost is not None and budget.samples is not None and budget.samples < cost:
            raise ConfigError(
                f"{path}: {field}: {budget.samples:,} samples, one evaluation of '{o.label}' on '{p.label}' costs {cost:,}; "
                f"allowed: at least {cost:,}, or no run evaluates anything"
            )


def _check_steps(path: Path, problem: type[Problem], p: ProblemSpec, field: str, budget: BudgetLimits) -> None:
    """A steps budget only for a problem with an environment, and large enough for one evaluation
    of full-length episodes (an episode may end sooner, but how soon is not knowable before it is
    played: a smaller budget could end every run inside its first evaluation)."""
    field = field.removesuffix(".samples")
    if not issubclass(problem, RolloutProblem):
        if budget.steps is not None:
            raise ConfigError(
                f"{path}: {field}.steps: problem '{p.label}' has no environment to step; allowed: evaluations, samples, seconds"
            )
        return
    most = problem.steps_per_evaluation_of(p.params)
    limits = [(unit, value) for unit, value in (("steps", budget.steps), ("samples", budget.samples)) if value is not None]
    for unit, value in limits:
        if most is not None and value < most:
            raise ConfigError(
                f"{path}: {field}.{unit}: {value:,} {unit}, one evaluation of '{p.label}' may take {most:,} environment steps "
                f"(its episodes at their time limit); allowed: at least {most:,}"
            )


def _evaluation_cost(
    problem: type[Problem], cls: type[Any], n: int | None, super_batch: int | None, batch: int | None
) -> int | None:
    """Forward-equivalent samples of one evaluation (``Objective``'s rule): 3 per minibatch sample
    for a gradient step, else the super-batch or the training set (1 without data); None where the
    problem decides once built (a training per evaluation) or the sizes are not known yet."""
    if problem.search_kind != "weights" or problem.evaluation_samples is not Problem.evaluation_samples:
        return None
    if not problem.has_data:
        return 3 if issubclass(cls, GradientOptimizer) else 1
    if issubclass(cls, GradientOptimizer):
        return None if batch is None else 3 * batch
    return super_batch if super_batch is not None else n
