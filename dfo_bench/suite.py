"""Suites: YAML validated with pydantic, expanded into independent run specs.

Every error names the file, the field and what is allowed, in one line, before anything is
written or run: problem and optimizer parameters are validated against each class's own
``Params`` (data locations included), and each pairing is checked against what the problem
can do (a gradient, a training set to cut into super-batches, several objectives, a typed space of
hyper-parameters instead of weights, few enough coordinates for a Gaussian-process method).
With a ``tuning:`` block each (problem, optimizer entry) also gets a ``StudyPlan``
(``dfo_bench.tuning``): its ranges are checked against the optimizer's ``Params`` here, and a
tuned entry's evaluation runs are left out of ``Suite.runs`` until its study has chosen.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dfo_bench.budget import BudgetLimits
from dfo_bench.errors import ConfigError, DfoBenchError
from dfo_bench.hashing import canonical_json
from dfo_bench.optimizers.base import GradientOptimizer, Optimizer
from dfo_bench.optimizers.box import dimension_message
from dfo_bench.params import ParamsModel
from dfo_bench.problems.base import DifferentiableProblem, Problem
from dfo_bench.registry import Registry, optimizers, problems
from dfo_bench.spaces import BlockSpaceConfig, SpaceConfig
from dfo_bench.spec import SEED_LIMIT, Component, OptimizerSpec, PretrainSpec, ProblemSpec, RunSpec
from dfo_bench.tuning.config import CLASSIFIER_METRICS, METRICS, StudyPlan, TuneError, resolve_ranges


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        """An unknown key is refused with the keys allowed in its place (a typo names its fix)."""
        unknown = [key for key in data if key not in cls.model_fields] if isinstance(data, dict) else []
        if unknown:
            raise ValueError(f"unknown field '{unknown[0]}'; allowed: {', '.join(cls.model_fields)}")
        return data


class SuiteBudget(BudgetLimits, _Strict):
    """A suite's budget: at least one limit."""

    @model_validator(mode="after")
    def _some_limit(self) -> SuiteBudget:
        if self.evaluations is None and self.samples is None and self.seconds is None:
            raise ValueError("set at least one of evaluations, samples, seconds")
        return self


class ComponentConfig(_Strict):
    name: str
    label: str | None = Field(None, min_length=1)
    """Name shown in reports; default: name plus the parameters given, e.g. de[F=0.8]."""
    params: dict[str, Any] = {}


class PretrainConfig(_Strict):
    optimizer: str = "adam"
    """A gradient optimizer from the registry."""
    params: dict[str, Any] = {}
    epochs: float = Field(gt=0, le=1e6)
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
    super_batch: int | None = Field(None, ge=1)
    """Training samples per evaluation, circular chunks; default: the optimizer's own (1,000 for hbde), else the problem's."""
    budget: SuiteBudget | None = None
    """Replaces the suite's budget for this optimizer (e.g. a gradient baseline's own schedule)."""
    tune: StrictBool | dict[str, Any] = True
    """With the suite's ``tuning:``: ranges replacing the optimizer's declared ``tuning_ranges``
    ({param: {low, high, log} | {choices: [...]} | false}); false: this entry is not tuned."""


EXECUTOR_FIELDS: dict[str, tuple[str, ...]] = {
    "sequential": (),
    "process": ("workers", "retries"),
    "dask": ("address", "workers", "threads_per_worker", "memory_limit", "retries"),
    "slurm": ("cluster", "partition", "time_min", "cpus_per_run", "gpus_per_run", "mem_gb", "array_parallelism", "retries"),
}
"""The fields each executor kind takes (besides ``kind``; slurm also takes ``slurm_*`` options)."""


def slurm_options() -> list[str] | None:
    """The ``slurm_*`` options submitit's SlurmExecutor passes to sbatch; None without submitit
    (then the options are checked when the executor starts)."""
    try:
        from submitit.slurm.slurm import SlurmExecutor
    except ImportError:
        return None
    return sorted(f"slurm_{name}" for name in SlurmExecutor._valid_parameters())


class ExecutorConfig(_Strict):
    """How the runs of a suite are executed; each kind takes its own fields (``EXECUTOR_FIELDS``)."""

    kind: Literal["sequential", "process", "dask", "slurm"] = "sequential"
    workers: int = Field(2, ge=1, le=1024)
    """process: pool size; dask: workers of the LocalCluster started when no address is given."""
    retries: int = Field(1, ge=0, le=100)
    """How many times a run whose worker died (killed, out of memory) is run again before it is stored as failed."""
    address: StrictStr | None = Field(None, min_length=1)
    """dask: an existing scheduler (``tcp://host:8786``); None starts a LocalCluster."""
    threads_per_worker: int = Field(1, ge=1, le=1024)
    memory_limit: StrictStr | StrictInt | None = None
    """dask LocalCluster: memory per worker, bytes or a size like ``4GiB``; None: dask's ``auto``."""
    cluster: Literal["slurm", "local"] = "slurm"
    """slurm: ``local`` runs the same job submissions on this machine (submitit's local mode)."""
    partition: StrictStr | None = Field(None, min_length=1)
    time_min: int = Field(60, ge=1, le=10**6)
    """slurm: time limit of one run's job, minutes (a job cut by it is requeued)."""
    cpus_per_run: int = Field(1, ge=1, le=1024)
    gpus_per_run: int | None = Field(None, ge=0, le=64)
    """slurm: None: 1 when the suite's device is cuda, else 0."""
    mem_gb: float | None = Field(None, gt=0, le=1e6)
    array_parallelism: int = Field(64, ge=1, le=10**6)
    """slurm: runs of the suite's job array running at once."""
    extra_slurm: dict[str, Any] = {}
    """slurm: the suite's ``slurm_*`` options, passed to submitit as they are (``slurm_qos``, ``slurm_account``, ...)."""

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        """``slurm_*`` keys are gathered into ``extra_slurm`` (known to submitit, when it is installed);
        any other unknown key is refused with the keys allowed."""
        if not isinstance(data, dict):
            return data
        given = {key: value for key, value in data.items() if not str(key).startswith("slurm_")}
        extra = {str(key): value for key, value in data.items() if str(key).startswith("slurm_")}
        known = slurm_options()
        for key in extra:
            if data.get("kind") != "slurm":
                raise ValueError(f"unknown field '{key}' (slurm_* options are for kind slurm)")
            if known is not None and key not in known:
                raise ValueError(f"unknown field '{key}'; allowed slurm_* options: {', '.join(known)}")
        unknown = [key for key in given if key not in cls.model_fields or key == "extra_slurm"]
        if unknown:
            kind = data.get("kind", "sequential")
            allowed = ", ".join(["kind", *EXECUTOR_FIELDS.get(kind, ())] + (["slurm_*"] if kind == "slurm" else []))
            raise ValueError(f"unknown field '{unknown[0]}'; allowed: {allowed}")
        return given | ({"extra_slurm": extra} if extra else {})

    @field_validator(*{field for fields in EXECUTOR_FIELDS.values() for field in fields}, mode="after")
    @classmethod
    def _field_of_the_kind(cls, value: Any, info: ValidationInfo) -> Any:
        """A field of another kind is refused, unless it holds its default (a stored suite lists every field)."""
        kind = info.data.get("kind")
        field = info.field_name or ""
        if kind in EXECUTOR_FIELDS and field not in EXECUTOR_FIELDS[kind] and value != cls.model_fields[field].default:
            owners = " and ".join(k for k, fields in EXECUTOR_FIELDS.items() if field in fields)
            allowed = ", ".join(EXECUTOR_FIELDS[kind]) or "no other field"
            raise ValueError(f"a field of kind {owners}, not of {kind}; allowed for {kind}: {allowed}")
        return value

    @field_validator("memory_limit")
    @classmethod
    def _size(cls, value: str | int | None) -> str | int | None:
        if isinstance(value, int) and value < 0:
            raise ValueError("a memory size is not negative")
        if isinstance(value, str) and value != "auto" and not re.fullmatch(r"\d+(\.\d+)?\s*([kKMGTP]i?)?B", value):
            raise ValueError(f"not a memory size ({value!r}); allowed: bytes, or a size like 4GiB, 500MB, or auto")
        return value

    def options(self) -> dict[str, Any]:
        """The fields given for this kind (defaults left out): what the CLI shows and overrides."""
        return (
            {"kind": self.kind}
            | {field: getattr(self, field) for field in EXECUTOR_FIELDS[self.kind] if field in self.model_fields_set}
            | self.extra_slurm
        )


Seed = Annotated[int, Field(strict=True, ge=0, lt=SEED_LIMIT)]


def _distinct_seeds(seeds: list[int]) -> list[int]:
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        raise ValueError(f"seeds must be distinct, {repeated[0]} repeats")
    return seeds


class TuningConfig(_Strict):
    """An equal, declared tuning budget for every optimizer entry (``dfo_bench.tuning``)."""

    trials: int = Field(ge=1, le=100_000, strict=True)
    """Configurations sampled per (problem, optimizer entry)."""
    sampler: Literal["random", "tpe"] = "tpe"
    """Optuna's RandomSampler or TPESampler, seeded from the suite."""
    seeds: list[Seed] = Field(min_length=1)
    """Seeds every trial runs on; disjoint from the evaluation seeds."""
    budget: SuiteBudget | None = None
    """Budget of each tuning run; default: the suite's budget."""
    budget_fraction: float | None = Field(None, gt=0, le=1)
    """Instead of ``budget``: each tuning run gets this share of its entry's evaluation budget
    (every limit scaled, rounded up), so entries with budgets of their own (Adam's steps beside
    a search's evaluations) are tuned at the same share of what they are compared with."""
    metric: Literal["val_accuracy", "val_f1", "val_loss", "train_loss"] = "val_accuracy"
    """Final metric a trial is scored on (mean over the tuning seeds); accuracy and F1 are
    maximised, losses minimised."""
    include_given: bool = True
    """Trial 0 is the entry's own configuration (one of the ``trials``), as SMAC and Auto-sklearn
    start from the default, so tuning can only choose a configuration that did at least as well on
    the tuning seeds; skipped for an entry whose own values lie outside its search space."""

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, seeds: list[int]) -> list[int]:
        return _distinct_seeds(seeds)

    @model_validator(mode="after")
    def _one_budget(self) -> TuningConfig:
        if self.budget is not None and self.budget_fraction is not None:
            raise ValueError("give budget or budget_fraction, not both")
        return self

    def run_budget(self, evaluation: BudgetLimits) -> BudgetLimits:
        """The budget of each tuning run of an entry whose evaluation runs get ``evaluation``."""
        if self.budget is not None:
            return self.budget
        if self.budget_fraction is None:
            return evaluation
        f = self.budget_fraction
        return BudgetLimits(
            evaluations=None if evaluation.evaluations is None else math.ceil(f * evaluation.evaluations),
            samples=None if evaluation.samples is None else math.ceil(f * evaluation.samples),
            seconds=None if evaluation.seconds is None else f * evaluation.seconds,
        )


class SuiteConfig(_Strict):
    name: str | None = Field(None, min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    problems: list[ProblemConfig] = Field(min_length=1)
    optimizers: list[OptimizerConfig] = Field(min_length=1)
    seeds: list[Seed] = Field(min_length=1)
    budget: SuiteBudget
    checkpoints: int = Field(25, ge=20, le=1000)
    """Log-spaced points of the budget at which the recommended point is measured (at least 20)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(1, ge=1, le=1024)
    """torch threads per run; runs in parallel come from the executor."""
    executor: ExecutorConfig = ExecutorConfig()
    tuning: TuningConfig | None = None
    """None: every optimizer runs with the parameters given; else each entry is tuned first."""

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
        return _distinct_seeds(seeds)


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


def _where(prefix: str, loc: tuple[int | str, ...], data: Any) -> str:
    """A pydantic error location as the suite spells it: ``optimizers.0.space.n_bins``, without
    the member names pydantic inserts for unions (a location step that is not a key of the
    input, except the last, which may be a missing field)."""
    where, node = prefix, data
    for i, key in enumerate(loc):
        if isinstance(node, dict) and key not in node and i < len(loc) - 1:
            continue
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            node = None
        where += f".{key}"
    return where.lstrip(".").replace(".[", "[")


def format_error(path: Path, prefix: str, exc: ValidationError, data: Any) -> str:
    """One line of the first error of ``exc``, raised validating ``data`` found at ``prefix``."""
    err = exc.errors()[0]
    where = _where(prefix, err["loc"], data)
    message = err["msg"].removeprefix("Value error, ")
    shown = "" if err["type"] in ("missing", "value_error") else f" (got {err['input']!r})"
    more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{path}: {where or 'suite'}: {message}{shown}{more}"


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


def _names(registry: Registry[Any], keep: Any) -> str:
    return ", ".join(n for n in registry.names() if keep(registry.get(n))) or "none"


def _pretrain(path: Path, where: str, problem: type[Problem], config: PretrainConfig) -> PretrainSpec:
    where = f"{where}.init.pretrain"
    if not (issubclass(problem, DifferentiableProblem) and problem.has_data):
        raise ConfigError(f"{path}: {where}: {problem.name} has no training set and gradient to pre-train on")
    cls = _lookup(path, f"{where}.optimizer", optimizers, config.optimizer)
    if not issubclass(cls, GradientOptimizer):
        gradient = _names(optimizers, lambda c: issubclass(c, GradientOptimizer))
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


def _check_pairing(path: Path, problem: type[Problem], p: ProblemSpec, o: OptimizerSpec, where: str) -> None:
    """Whether the problem can give what the optimizer needs; one line naming both if not."""
    cls = optimizers.get(o.name)
    kind = problem.search_kind
    if kind not in cls.search_kinds:
        able = _names(optimizers, lambda c: kind in c.search_kinds)
        raise ConfigError(
            f"{path}: {where}.name: '{o.name}' cannot search the {kind} space of problem '{p.label}'; allowed: {able}"
        )
    if kind == "typed" and (o.super_batch is not None or o.space.kind != "full"):
        field = "super_batch" if o.super_batch is not None else "space"
        raise ConfigError(f"{path}: {where}.{field}: problem '{p.label}' searches configurations, not weights; remove {field}")
    if issubclass(cls, GradientOptimizer) and not issubclass(problem, DifferentiableProblem):
        raise ConfigError(f"{path}: {where}: '{o.name}' needs gradients, which problem '{p.label}' does not have")
    if o.super_batch is not None and not problem.has_data:
        raise ConfigError(f"{path}: {where}.super_batch: problem '{p.label}' has no training set to cut into super-batches")
    n_objectives = problem.objectives_of(p.params)
    if cls.objectives == 1 and n_objectives > 1:
        many = _names(optimizers, lambda c: c.objectives != 1)
        raise ConfigError(
            f"{path}: {where}: '{o.name}' minimises one objective, problem '{p.label}' has {n_objectives}; allowed: {many}"
        )
    if cls.max_dim is not None:
        _check_dimension(path, problem, p, o, where, cls.max_dim)


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


def read_yaml(path: Path) -> Any:
    """The YAML document of ``path``; ConfigError (one line) for unreadable, binary or non-UTF-8 files."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if b"\x00" in data:
        raise ConfigError(f"{path}: a binary file, not a YAML suite")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the suite as UTF-8") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None


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
            _check_pairing(path, cls, p, o, f"optimizers[{j}]")
    name = config.name or path.stem
    studies = _studies(path, name, config, problem_list, optimizer_list)
    tuned = {(plan.problem.label, plan.optimizer.label) for plan in studies if plan.ranges}
    runs = [
        RunSpec(
            suite=name,
            problem=problem,
            optimizer=optimizer,
            seed=seed,
            budget=budget or config.budget,
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


def _studies(
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
