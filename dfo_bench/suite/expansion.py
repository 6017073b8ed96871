"""Expansion: a validated suite into run specs, one per (problem, optimizer entry, seed).

Each component's parameters are validated against its class's ``Params`` (data locations
included), labels are made from the parameters given, every pairing is checked, and each run's
effective settings are resolved into its spec (``dfo_bench.spec.resolve_settings``, which tuning
plans use too), so what a run uses is decided here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dfo_bench.budget import BudgetLimits
from dfo_bench.errors import ConfigError, DfoBenchError
from dfo_bench.hashing import canonical_json
from dfo_bench.optimizers.base import GradientOptimizer, Optimizer
from dfo_bench.params import ParamsModel
from dfo_bench.problems.base import DifferentiableProblem, Problem
from dfo_bench.registry import Registry, optimizers, problems
from dfo_bench.settings import resolve_settings
from dfo_bench.spec import Component, OptimizerSpec, PretrainSpec, ProblemSpec, RunSpec
from dfo_bench.suite.document import format_error, read_yaml
from dfo_bench.suite.pairing import check_pairing, names_of
from dfo_bench.suite.schema import OptimizerConfig, PretrainConfig, ProblemConfig, SuiteConfig
from dfo_bench.suite.studies import plan_studies
from dfo_bench.tuning.config import StudyPlan


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    config: SuiteConfig
    runs: list[RunSpec]
    """The runs known before anything runs: every run, or with ``tuning:`` those of the entries
    that are not tuned (a tuned entry's evaluation runs depend on its study)."""
    studies: list[StudyPlan] = field(default_factory=list)
    """With ``tuning:``: one per (problem, optimizer entry), tuned or not."""


def label(name: str, given: dict[str, Any]) -> str:
    """``name[key=value,...]`` of the parameters given (sorted), or the bare name."""
    if not given:
        return name
    inside = ",".join(f"{k}={v if isinstance(v, str) else canonical_json(v)}" for k, v in sorted(given.items()))
    return f"{name}[{inside}]"


def _params(path: Path, where: str, cls: type[Problem] | type[Optimizer], given: dict[str, Any]) -> ParamsModel:
    """``given`` validated against ``cls.Params``."""
    try:
        return cls.Params(**given)
    except ValidationError as exc:
        allowed = ", ".join(cls.Params.model_fields)
        raise ConfigError(format_error(path, f"{where}.params", exc, given) + f"; allowed: {allowed}") from None


def _lookup(path: Path, where: str, registry: Registry[Any], name: str) -> Any:
    try:
        return registry.get(name)
    except DfoBenchError as exc:
        raise ConfigError(f"{path}: {where}: {exc}") from None


def _pretrain(path: Path, where: str, problem: type[Problem], config: PretrainConfig) -> PretrainSpec:
    where = f"{where}.init.pretrain"
    if not (issubclass(problem, DifferentiableProblem) and problem.has_data):
        raise ConfigError(f"{path}: {where}: {problem.name} has no training set and gradient to pre-train on")
    cls = _lookup(path, f"{where}.optimizer", optimizers, config.optimizer)
    if not issubclass(cls, GradientOptimizer):
        gradient = names_of(optimizers, lambda c: issubclass(c, GradientOptimizer))
        raise ConfigError(f"{path}: {where}.optimizer: '{config.optimizer}' is not a gradient optimizer; allowed: {gradient}")
    params = _params(path, where, cls, config.params)
    component = Component(name=cls.name, label=cls.name, params=params, version=cls.version)
    return PretrainSpec(optimizer=component, epochs=config.epochs)


def _distinct_labels(path: Path, section: str, labels: list[str]) -> None:
    duplicated = sorted({lab for lab in labels if labels.count(lab) > 1})
    if duplicated:
        raise ConfigError(f"{path}: {section}: labels must be distinct, '{duplicated[0]}' repeats; give each a label")


def _problems(path: Path, items: list[ProblemConfig]) -> list[tuple[type[Problem], ProblemSpec]]:
    out = []
    for i, item in enumerate(items):
        where = f"problems[{i}]"
        cls = _lookup(path, f"{where}.name", problems, item.name)
        params = _params(path, where, cls, item.params)
        pretrain = _pretrain(path, where, cls, item.init.pretrain) if item.init else None
        shown = {k: v for k, v in item.params.items() if k not in cls.Params.locations}
        name = item.label or label(item.name, shown) + ("+pretrain" if pretrain else "")
        out.append((cls, ProblemSpec(name=item.name, label=name, params=params, version=cls.version, pretrain=pretrain)))
    _distinct_labels(path, "problems", [spec.label for _, spec in out])
    return out


def _optimizers(path: Path, items: list[OptimizerConfig]) -> list[tuple[OptimizerSpec, BudgetLimits | None]]:
    out: list[tuple[OptimizerSpec, BudgetLimits | None]] = []
    for i, item in enumerate(items):
        where = f"optimizers[{i}]"
        cls = _lookup(path, f"{where}.name", optimizers, item.name)
        params = _params(path, where, cls, item.params)
        name = label(item.name, item.params)
        if item.space is not None:
            space = item.space.model_dump(mode="json")
            name += "@" + label(space.pop("kind"), space)
        if item.super_batch is not None:
            name += f"@super_batch={item.super_batch}"
        spec = OptimizerSpec(
            name=item.name,
            label=item.label or name,
            params=params,
            version=cls.version,
            space=item.space if item.space is not None else cls.default_space,
            super_batch=item.super_batch if item.super_batch is not None else cls.default_super_batch,
        )
        out.append((spec, item.budget))
    _distinct_labels(path, "optimizers", [spec.label for spec, _ in out])
    return out


def load_suite(path: str | Path) -> Suite:
    """Read, validate and expand a suite file; raises ``ConfigError`` with a one-line message."""
    path = Path(path)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        found = "an empty file" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(f"{path}: suite: a suite is a mapping with problems, optimizers, seeds and budget, not {found}")
    raw = {str(k): v for k, v in raw.items()}
    try:
        config = SuiteConfig(**raw)
    except ValidationError as exc:
        raise ConfigError(format_error(path, "", exc, raw)) from None
    problem_list = _problems(path, config.problems)
    optimizer_list = _optimizers(path, config.optimizers)
    for cls, p in problem_list:
        for j, (o, _) in enumerate(optimizer_list):
            check_pairing(path, cls, p, o, f"optimizers[{j}]")
    name = config.name or path.stem
    studies = plan_studies(path, name, config, problem_list, optimizer_list)
    tuned = {(plan.problem.label, plan.optimizer.label) for plan in studies if plan.ranges}
    runs = [
        RunSpec(
            suite=name,
            problem=problem,
            optimizer=optimizer,
            seed=seed,
            budget=budget or config.budget,
            settings=resolve_settings(problem, optimizer),
            checkpoints=config.checkpoints,
            device=config.device,
            threads=config.threads,
        )
        for _, problem in problem_list
        for optimizer, budget in optimizer_list
        for seed in config.seeds
        if (problem.label, optimizer.label) not in tuned
    ]
    return Suite(name, path, config, runs, studies)
