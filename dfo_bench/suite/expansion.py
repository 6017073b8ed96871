"""Expansion: a validated suite into run specs, one per (problem, optimizer entry, seed).

Each component's parameters are validated against its class's ``Params`` (data locations
included), labels are made from the parameters given, every pairing is checked, and each run's
effective settings are resolved into its spec (``dfo_bench.spec.resolve_settings``, which tuning
plans use too), so what a run uses is decided here, once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dfo_bench.budget import BudgetLimits
from dfo_bench.errors import ConfigError, DfoBenchError
from dfo_bench.hashing import canonical_json
from dfo_bench.labels import select_labels
from dfo_bench.optimizers.base import GradientOptimizer, Optimizer
from dfo_bench.params import ParamsModel
from dfo_bench.problems.base import DifferentiableProblem, Problem
from dfo_bench.registry import Registry, optimizers, problems
from dfo_bench.settings import resolve_settings
from dfo_bench.spec import Component, OptimizerSpec, PretrainSpec, ProblemSpec, RunSpec
from dfo_bench.store import ExpectedStudy
from dfo_bench.suite.document import format_error, read_yaml
from dfo_bench.suite.pairing import check_pairing, check_sizes, names_of
from dfo_bench.suite.schema import (
    LABEL_RULE,
    SUITE_NAME,
    OptimizerConfig,
    PretrainConfig,
    ProblemConfig,
    SuiteConfig,
    label_fault,
    shown,
)
from dfo_bench.suite.studies import plan_studies
from dfo_bench.tuning.config import StudyPlan

MAX_RUNS = 100_000
"""Runs one suite may hold (problems × optimizer entries × seeds): a larger one is split."""
RUN_ID_LENGTH = 255 - len(".parquet") - len("..4194303.tmp")
"""Characters a run id may have: its result's file name, and the temporary file the store writes
first (``.<name>.<pid>.tmp``), must fit the 255 bytes of a file name."""


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
    whole: Suite | None = None
    """For a part of the suite (``select``): the whole suite, whose runs its copy in a results
    folder still expects."""

    def select(self, problems: Sequence[str] = (), optimizers: Sequence[str] = ()) -> Suite:
        """Only the entries whose labels match the patterns (exact labels or shell wildcards such
        as ``'de*'``; none given: every entry), to run a part of a suite now: the rest stays
        expected, so a later run of the whole suite into the same folder completes it.
        ConfigError names a pattern that matches no label, with the labels allowed."""
        pairs = [(s.problem.label, s.optimizer.label) for s in self.runs]
        pairs += [(plan.problem.label, plan.optimizer.label) for plan in self.studies]
        kept_problems = _chosen(self.path, "--problems", problems, [p for p, _ in pairs])
        kept_optimizers = _chosen(self.path, "--optimizers", optimizers, [o for _, o in pairs])
        return replace(
            self,
            runs=[s for s in self.runs if s.problem.label in kept_problems and s.optimizer.label in kept_optimizers],
            studies=[p for p in self.studies if p.problem.label in kept_problems and p.optimizer.label in kept_optimizers],
            whole=self.whole or self,
        )

    def expected(self) -> tuple[dict[str, str], list[ExpectedStudy]]:
        """What its copy in a results folder expects (``ResultStore.write_suite_copy``): run id ->
        optimizer label of the runs known now, and the tuned entries, counted as their studies go;
        for a part of the suite, those of the whole."""
        if self.whole is not None:
            return self.whole.expected()
        runs = {spec.run_id: spec.optimizer.label for spec in self.runs}
        studies = [
            ExpectedStudy(
                problem_label=plan.problem.label,
                optimizer_label=plan.optimizer.label,
                trials=plan.trials,
                tuning_seeds=list(plan.tuning_seeds),
                evaluation_seeds=list(plan.evaluation_seeds),
            )
            for plan in self.studies
            if plan.ranges
        ]
        return runs, studies


def _chosen(path: Path, option: str, patterns: Sequence[str], labels: list[str]) -> set[str]:
    """The labels ``patterns`` select (all of them when there are none); ConfigError names a
    pattern that matches no label."""
    if not patterns:
        return set(labels)
    chosen, missing = select_labels(labels, patterns)
    if missing:
        allowed = ", ".join(sorted(set(labels)))
        raise ConfigError(f"{path}: {option}: {', '.join(missing)}: no such label in the suite; allowed: {allowed}")
    return set(chosen)


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


def _pretrain(
    path: Path, where: str, problem: type[Problem], problem_params: ParamsModel, config: PretrainConfig
) -> PretrainSpec:
    where = f"{where}.init.pretrain"
    if not (issubclass(problem, DifferentiableProblem) and problem.has_data):
        raise ConfigError(f"{path}: {where}: {problem.name} has no training set and gradient to pre-train on")
    cls = _lookup(path, f"{where}.optimizer", optimizers, config.optimizer)
    if not issubclass(cls, GradientOptimizer):
        gradient = names_of(optimizers, lambda c: issubclass(c, GradientOptimizer))
        raise ConfigError(f"{path}: {where}.optimizer: '{config.optimizer}' is not a gradient optimizer; allowed: {gradient}")
    params = _params(path, where, cls, config.params)
    n, batch = problem.train_size_of(problem_params), cls.batch_size_of(params)
    if n is not None and batch is not None:
        if batch > n:
            raise ConfigError(
                f"{path}: {where}.params.batch_size: minibatches of {batch:,}, {problem.name} trains on {n:,}; "
                f"allowed: 1 to {n:,}"
            )
        if round(3 * config.epochs * n) < 3 * batch:
            raise ConfigError(
                f"{path}: {where}.epochs: {config.epochs:g} epochs of {n:,} samples do not make one minibatch of {batch:,}; "
                f"allowed: at least {batch / n:.3g}"
            )
    component = Component(name=cls.name, label=cls.name, params=params, version=cls.version)
    return PretrainSpec(optimizer=component, epochs=config.epochs)


def _default_label(path: Path, where: str, made: str) -> str:
    """``made`` (from the name and parameters) as the entry's label, if it can be part of a file name."""
    fault = label_fault(made)
    if fault is not None:
        raise ConfigError(
            f"{path}: {where}.label: the label made from the parameters, {shown(made)}, is not a file name: {fault}; "
            f"give a label: {LABEL_RULE}"
        )
    return made


def _distinct_labels(path: Path, section: str, labels: list[str]) -> None:
    """Labels of a section differ, also ignoring case (run files of 'DE' and 'de' are one file on
    macOS and Windows)."""
    seen: dict[str, str] = {}
    for lab in labels:
        first = seen.get(lab.lower())
        if first is None:
            seen[lab.lower()] = lab
        elif first == lab:
            raise ConfigError(f"{path}: {section}: labels must be distinct, '{lab}' repeats; give each a label")
        else:
            raise ConfigError(
                f"{path}: {section}: labels must be distinct ignoring case, '{first}' and '{lab}' differ only in case; "
                "give each a label"
            )


def _problems(path: Path, items: list[ProblemConfig]) -> list[tuple[type[Problem], ProblemSpec]]:
    out = []
    for i, item in enumerate(items):
        where = f"problems[{i}]"
        cls = _lookup(path, f"{where}.name", problems, item.name)
        params = _params(path, where, cls, item.params)
        pretrain = _pretrain(path, where, cls, params, item.init.pretrain) if item.init else None
        given = {k: v for k, v in item.params.items() if k not in cls.Params.locations}
        name = item.label or _default_label(path, where, label(item.name, given) + ("+pretrain" if pretrain else ""))
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
            label=item.label or _default_label(path, where, name),
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
    return suite_from_data(read_yaml(path), path)


DATA_SOURCE = Path("<suite>")
"""What errors name as the file of a suite given as data in Python."""


def suite_from_data(raw: Any, path: Path = DATA_SOURCE) -> Suite:
    """Validate and expand a suite given as data (what a suite file holds, or a ``SuiteConfig``),
    as ``load_suite`` does a file's: the one place a suite's configuration is resolved. ``path``
    is what errors name (and, without ``name:``, gives the suite's name)."""
    if isinstance(raw, SuiteConfig):
        raw = raw.model_dump(mode="json", exclude_unset=True)
    if not isinstance(raw, dict):
        found = "an empty file" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(f"{path}: suite: a suite is a mapping with problems, optimizers, seeds and budget, not {found}")
    raw = {str(k): v for k, v in raw.items()}
    try:
        config = SuiteConfig(**raw)
    except ValidationError as exc:
        raise ConfigError(format_error(path, "", exc, raw)) from None
    name = _name(path, config)
    counts = len(config.problems), len(config.optimizers), len(config.seeds)
    if counts[0] * counts[1] * counts[2] > MAX_RUNS:
        made = counts[0] * counts[1] * counts[2]
        raise ConfigError(
            f"{path}: suite: {counts[0]:,} problems × {counts[1]:,} optimizers × {counts[2]:,} seeds make {made:,} runs; "
            f"allowed: at most {MAX_RUNS:,} in one suite (split it)"
        )
    problem_list = _problems(path, config.problems)
    optimizer_list = _optimizers(path, config.optimizers)
    _check_run_ids(path, config, problem_list, optimizer_list)
    for i, (cls, p) in enumerate(problem_list):
        for j, (o, budget) in enumerate(optimizer_list):
            check_pairing(path, cls, p, o, f"optimizers[{j}]")
            spent: dict[str, BudgetLimits] = (
                {f"optimizers[{j}].budget.samples": budget} if budget else {"budget.samples": config.budget}
            )
            check_sizes(path, cls, p, o, (f"problems[{i}]", f"optimizers[{j}]"), spent)
    studies = plan_studies(path, name, config, problem_list, optimizer_list)
    tuned = {(plan.problem.label, plan.optimizer.label) for plan in studies if plan.ranges}
    _check_tuning_budgets(path, config, problem_list, studies)
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


def _name(path: Path, config: SuiteConfig) -> str:
    """The suite's name: given, else the file's name, which must then be one too."""
    if config.name is not None:
        return config.name
    if not re.fullmatch(SUITE_NAME, path.stem):
        raise ConfigError(
            f"{path}: name: the file's name {shown(path.stem)} is not a suite name (the results folder's); "
            "give name: up to 100 ASCII letters, digits and _ . - starting with a letter or digit"
        )
    return path.stem


def _check_run_ids(
    path: Path,
    config: SuiteConfig,
    problem_list: list[tuple[type[Problem], ProblemSpec]],
    optimizer_list: list[tuple[OptimizerSpec, BudgetLimits | None]],
) -> None:
    """Every (problem, optimizer) pair's run ids fit a file name and differ from every other
    pair's, ignoring case ('a_' with '_b' and 'a' with '__b' would make the same ids)."""
    seeds = [*config.seeds, *(config.tuning.seeds if config.tuning else [])]
    phase = "__tuning" if config.tuning else ""
    extra = len(f"__{phase}__seed{max(seeds)}__") + 16  # as RunSpec.run_id has them, with the 16-digit hash
    seen: dict[str, tuple[str, str]] = {}
    for _, p in problem_list:
        for j, (o, _) in enumerate(optimizer_list):
            length = len(p.label) + len(o.label) + extra
            if length > RUN_ID_LENGTH:
                raise ConfigError(
                    f"{path}: optimizers[{j}].label: with problem {shown(p.label, 30)} it makes run ids of {length} characters; "
                    f"allowed: at most {RUN_ID_LENGTH} (a file name's 255 bytes), give shorter labels"
                )
            first = seen.setdefault(f"{p.label}__{o.label}".lower(), (p.label, o.label))
            if first != (p.label, o.label):
                raise ConfigError(
                    f"{path}: optimizers[{j}].label: {shown(o.label, 30)} with problem {shown(p.label, 30)} makes the run ids of "
                    f"{shown(first[1], 30)} with {shown(first[0], 30)}, ignoring case; "
                    "give labels without '__' that neither start nor end with '_'"
                )


def _check_tuning_budgets(
    path: Path, config: SuiteConfig, problem_list: list[tuple[type[Problem], ProblemSpec]], studies: list[StudyPlan]
) -> None:
    """Each tuned entry's tuning runs can pay for one evaluation (the evaluation budgets are checked with the pairs)."""
    tuning = config.tuning
    if tuning is None or (tuning.budget is None and tuning.budget_fraction is None):
        return
    field = "tuning.budget.samples" if tuning.budget is not None else "tuning.budget_fraction"
    entries = len(config.optimizers)
    for k, plan in enumerate(studies):  # (problem, optimizer entry) pairs, problem-major
        if plan.ranges:
            i, j = divmod(k, entries)
            check_sizes(
                path,
                problem_list[i][0],
                plan.problem,
                plan.optimizer,
                (f"problems[{i}]", f"optimizers[{j}]"),
                {field: plan.tuning_budget},
            )
