"""Suites: YAML validated with pydantic, expanded into independent run specs.

Every error names the file, the field and what is allowed, in one line, before anything is
written: problem and optimizer parameters are validated against each class's own ``Params``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dfo_bench.budget import BudgetLimits
from dfo_bench.errors import ConfigError, DfoBenchError
from dfo_bench.optimizers.base import GradientOptimizer
from dfo_bench.registry import Registry, optimizers, problems
from dfo_bench.spaces import SpaceConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BudgetConfig(_Strict):
    evaluations: int | None = Field(None, gt=0)
    samples: int | None = Field(None, gt=0)
    """Forward-equivalent samples: forward 1, backward 2 per sample."""
    seconds: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _some_limit(self) -> BudgetConfig:
        if self.evaluations is None and self.samples is None and self.seconds is None:
            raise ValueError("set at least one of evaluations, samples, seconds")
        return self


class ComponentConfig(_Strict):
    name: str
    label: str | None = None
    """Name shown in reports; default: name plus the parameters given, e.g. de[F=0.8]."""
    params: dict[str, Any] = {}


class PretrainConfig(_Strict):
    optimizer: str = "adam"
    """A gradient optimizer from the registry."""
    params: dict[str, Any] = {}
    epochs: float = Field(gt=0)
    """Passes over the training set, charged as 3 forward-equivalent samples per sample."""


class InitConfig(_Strict):
    pretrain: PretrainConfig
    """Start every optimizer from these pre-trained weights, computed once per (problem, seed)."""


class ProblemConfig(ComponentConfig):
    init: InitConfig | None = None
    """None: the problem's seeded initial weights."""


class OptimizerConfig(ComponentConfig):
    space: SpaceConfig | None = None
    """Where the optimizer searches; default: the optimizer's own (full weights for most, blocks for hbde)."""
    budget: BudgetConfig | None = None
    """Replaces the suite's budget for this optimizer (e.g. a gradient baseline's own schedule)."""


class ExecutorConfig(_Strict):
    kind: Literal["sequential", "process"] = "sequential"
    workers: int = Field(2, ge=1)


class SuiteConfig(_Strict):
    name: str | None = None
    problems: list[ProblemConfig] = Field(min_length=1)
    optimizers: list[OptimizerConfig] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)
    budget: BudgetConfig
    checkpoints: int = Field(25, ge=20, le=1000)
    """Log-spaced points of the budget at which the recommended point is measured (at least 20)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(1, ge=1)
    """torch threads per run; runs in parallel come from the executor."""
    executor: ExecutorConfig = ExecutorConfig()

    @field_validator("problems", "optimizers", mode="before")
    @classmethod
    def _names_as_shorthand(cls, items: Any) -> Any:
        if isinstance(items, list):
            return [{"name": item} if isinstance(item, str) else item for item in items]
        return items

    @field_validator("executor", mode="before")
    @classmethod
    def _kind_as_shorthand(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError("seeds must be distinct")
        return seeds


@dataclass(frozen=True)
class Component:
    """A validated problem or optimizer: registry name, display label, full parameters."""

    name: str
    label: str
    params: dict[str, Any]


@dataclass(frozen=True)
class RunSpec:
    """One independent run: everything that determines its result, and nothing more."""

    suite: str
    problem: Component
    optimizer: Component
    seed: int
    budget: BudgetLimits
    checkpoints: int
    device: str
    threads: int
    space: dict[str, Any] = field(default_factory=lambda: {"kind": "full"})
    """The optimizer's search space (``spaces.SpaceConfig`` as a dict)."""
    init: dict[str, Any] | None = None
    """How the initial weights are made (``InitConfig`` as a dict); None: the problem's own."""

    @property
    def config_hash(self) -> str:
        """Identifies the run's result: same hash, same configuration."""
        key = asdict(self)
        del key["suite"], key["threads"]
        # Settings at their defaults are left out, so results stored before they existed stay valid.
        if key["space"] == {"kind": "full"}:
            del key["space"]
        if key["init"] is None:
            del key["init"]
        return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @property
    def run_id(self) -> str:
        return f"{self.problem.label}__{self.optimizer.label}__seed{self.seed}__{self.config_hash}"


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    config: SuiteConfig
    runs: list[RunSpec]


def _format_error(path: Path, prefix: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
    where = where.replace(".[", "[")
    message = err["msg"].removeprefix("Value error, ")
    shown = "" if err["type"] in ("missing", "value_error") else f" (got {err['input']!r})"
    more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{path}: {where or 'suite'}: {message}{shown}{more}"


def _label(name: str, given: dict[str, Any]) -> str:
    if not given:
        return name
    inside = ",".join(f"{k}={json.dumps(v, separators=(',', ':')) if not isinstance(v, str) else v}" for k, v in sorted(given.items()))
    return f"{name}[{inside}]"


def _params(path: Path, where: str, cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` validated against ``cls.Params``, with every default filled in."""
    try:
        return cls.Params(**given).model_dump(mode="json")
    except ValidationError as exc:
        raise ConfigError(_format_error(path, f"{where}.params", exc) + f"; allowed: {', '.join(cls.Params.model_fields)}") from None


def _lookup(path: Path, where: str, registry: Registry, name: str) -> type:
    try:
        return registry.get(name)
    except DfoBenchError as exc:
        raise ConfigError(f"{path}: {where}: {exc}") from None


def _init(path: Path, where: str, item: ProblemConfig) -> dict[str, Any] | None:
    if item.init is None:
        return None
    pretrain = item.init.pretrain
    cls = _lookup(path, f"{where}.init.pretrain.optimizer", optimizers, pretrain.optimizer)
    if not issubclass(cls, GradientOptimizer):
        gradient = [n for n in optimizers.names() if issubclass(optimizers.get(n), GradientOptimizer)]
        raise ConfigError(f"{path}: {where}.init.pretrain.optimizer: '{pretrain.optimizer}' is not a gradient optimizer; allowed: {', '.join(gradient)}")
    params = _params(path, f"{where}.init.pretrain", cls, pretrain.params)
    return {"pretrain": {"optimizer": pretrain.optimizer, "params": params, "epochs": pretrain.epochs}}


def _distinct_labels(path: Path, section: str, labels: list[str]) -> None:
    duplicated = sorted({label for label in labels if labels.count(label) > 1})
    if duplicated:
        raise ConfigError(f"{path}: {section}: labels must be distinct, '{duplicated[0]}' repeats; give each a label")


@dataclass(frozen=True)
class _ProblemChoice:
    component: Component
    init: dict[str, Any] | None


@dataclass(frozen=True)
class _OptimizerChoice:
    component: Component
    space: dict[str, Any]
    budget: BudgetLimits | None


def _problems(path: Path, items: list[ProblemConfig]) -> list[_ProblemChoice]:
    out = []
    for i, item in enumerate(items):
        where = f"problems[{i}]"
        cls = _lookup(path, f"{where}.name", problems, item.name)
        init = _init(path, where, item)
        label = item.label or _label(item.name, item.params) + ("+pretrain" if init else "")
        out.append(_ProblemChoice(Component(item.name, label, _params(path, where, cls, item.params)), init))
    _distinct_labels(path, "problems", [p.component.label for p in out])
    return out


def _optimizers(path: Path, items: list[OptimizerConfig]) -> list[_OptimizerChoice]:
    out = []
    for i, item in enumerate(items):
        where = f"optimizers[{i}]"
        cls = _lookup(path, f"{where}.name", optimizers, item.name)
        params = _params(path, where, cls, item.params)
        label = item.label or _label(item.name, item.params)
        if item.space is not None:
            space = item.space.model_dump(mode="json")
            label = item.label or label + "@" + _label(space["kind"], {k: v for k, v in space.items() if k != "kind"})
        else:
            space = cls.default_space
        budget = BudgetLimits(**item.budget.model_dump()) if item.budget else None
        out.append(_OptimizerChoice(Component(item.name, label, params), space, budget))
    _distinct_labels(path, "optimizers", [o.component.label for o in out])
    return out


def load_suite(path: str | Path) -> Suite:
    """Read, validate and expand a suite file; raises ``ConfigError`` with a one-line message."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a suite is a mapping with problems, optimizers, seeds and budget")
    try:
        config = SuiteConfig(**raw)
    except ValidationError as exc:
        raise ConfigError(_format_error(path, "", exc)) from None
    problem_list = _problems(path, config.problems)
    optimizer_list = _optimizers(path, config.optimizers)
    name = config.name or path.stem
    limits = BudgetLimits(**config.budget.model_dump())
    runs = [
        RunSpec(
            name,
            problem.component,
            optimizer.component,
            seed,
            optimizer.budget or limits,
            config.checkpoints,
            config.device,
            config.threads,
            space=optimizer.space,
            init=problem.init,
        )
        for problem in problem_list
        for optimizer in optimizer_list
        for seed in config.seeds
    ]
    return Suite(name, path, config, runs)
