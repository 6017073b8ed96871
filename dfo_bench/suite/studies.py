"""Tuning plans: with a ``tuning:`` block, one ``StudyPlan`` per (problem, optimizer entry).

Each entry's ranges are resolved and checked against the optimizer's ``Params`` here; a tuned
entry's evaluation runs are left out of ``Suite.runs`` until its study has chosen.
"""

from __future__ import annotations

from pathlib import Path

from dfo_bench.budget import BudgetLimits
from dfo_bench.errors import ConfigError
from dfo_bench.problems.base import Problem
from dfo_bench.registry import optimizers
from dfo_bench.spec import OptimizerSpec, ProblemSpec
from dfo_bench.suite.schema import SuiteConfig
from dfo_bench.tuning.config import CLASSIFIER_METRICS, METRICS, StudyPlan, TuneError, resolve_ranges


def plan_studies(
    path: Path,
    name: str,
    config: SuiteConfig,
    problem_list: list[tuple[type[Problem], ProblemSpec]],
    optimizer_list: list[tuple[OptimizerSpec, BudgetLimits | None]],
) -> list[StudyPlan]:
    """One study plan per (problem, optimizer entry) of a suite with ``tuning:``; every check of
    the block against the suite (seeds, metric, each entry's ranges) before anything runs."""
    tuning = config.tuning
    if tuning is None:
        given = next((i for i, item in enumerate(config.optimizers) if item.tune is not True), None)
        if given is not None:
            raise ConfigError(f"{path}: optimizers[{given}].tune: the suite has no tuning: block (tuning: {{trials, seeds}})")
        return []
    shared = sorted(set(tuning.seeds) & set(config.seeds))
    if shared:
        raise ConfigError(f"{path}: tuning.seeds: must be disjoint from the evaluation seeds, {shared[0]} is in both")
    for cls, problem in problem_list:
        allowed = [m for m in METRICS if cls.has_data or m not in CLASSIFIER_METRICS]
        if tuning.metric not in allowed:
            measured = ", ".join(allowed)
            what = f"problem '{problem.label}' does not measure {tuning.metric}"
            raise ConfigError(f"{path}: tuning.metric: {what}; allowed: {measured}")
    resolved = []
    for i, (item, (optimizer, _)) in enumerate(zip(config.optimizers, optimizer_list, strict=True)):
        try:
            resolved.append(resolve_ranges(optimizers.get(optimizer.name), item.params, item.tune))
        except TuneError as exc:
            raise ConfigError(f"{path}: optimizers[{i}].tune.{exc.field}: {exc.message}") from None
    return [
        StudyPlan(
            suite=name,
            problem=problem,
            optimizer=optimizer,
            ranges=ranges,
            not_tuned=not_tuned,
            trials=tuning.trials,
            sampler=tuning.sampler,
            metric=tuning.metric,
            include_given=tuning.include_given,
            tuning_seeds=tuple(tuning.seeds),
            tuning_budget=tuning.run_budget(budget or config.budget),
            evaluation_seeds=tuple(config.seeds),
            evaluation_budget=budget or config.budget,
            checkpoints=config.checkpoints,
            device=config.device,
            threads=config.threads,
        )
        for _, problem in problem_list
        for (optimizer, budget), (ranges, not_tuned) in zip(optimizer_list, resolved, strict=True)
    ]
