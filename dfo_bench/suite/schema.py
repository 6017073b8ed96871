"""The suite file's schema: pydantic models of every block, each field with what it means and allows.

An unknown key is refused with the keys allowed in its place; values are checked here, against
each other within a block (budgets, seeds). Checks that need the registry (parameters against
each class's ``Params``, pairings) come when the suite is expanded (``expansion``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from dfo_bench.budget import BudgetLimits
from dfo_bench.space_config import SpaceConfig
from dfo_bench.spec import SEED_LIMIT
from dfo_bench.suite.executor import ExecutorConfig


class Strict(BaseModel):
    """Base of the suite's blocks: unknown keys and non-finite numbers are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        """An unknown key is refused with the keys allowed in its place (a typo names its fix)."""
        unknown = [key for key in data if key not in cls.model_fields] if isinstance(data, dict) else []
        if unknown:
            raise ValueError(f"unknown field '{unknown[0]}'; allowed: {', '.join(cls.model_fields)}")
        return data


class SuiteBudget(BudgetLimits, Strict):
    """A suite's budget: at least one limit."""

    @model_validator(mode="after")
    def _some_limit(self) -> SuiteBudget:
        if self.evaluations is None and self.samples is None and self.seconds is None and self.steps is None:
            raise ValueError("set at least one of evaluations, samples, seconds, steps")
        return self


LABEL_LENGTH = 100
LABEL_RULE = f"up to {LABEL_LENGTH} ASCII letters, digits and _ - . + = @ , : % [ ] {{ }} \", not starting with '.'"
"""What a label may be: it is part of every run's file name (``<problem label>__<optimizer label>__...``)."""
_LABEL_CHARACTERS = re.compile(r'[A-Za-z0-9_.+=@,:%\[\]{}"-]*')


def label_fault(label: str) -> str | None:
    """What keeps ``label`` from being part of a file name on every system (a path separator, a
    control character, a hidden file's leading dot); None: nothing. Default labels, made from the
    parameters, are held to this too; the length limit is for labels given."""
    bad = next((c for c in label if not _LABEL_CHARACTERS.fullmatch(c)), None)
    if bad is not None:
        return f"{bad!r} is not allowed"
    if label.startswith("."):
        return "a leading '.' is not allowed"
    return None


def shown(text: str, limit: int = 60) -> str:
    """``text`` quoted for a one-line message, cut after ``limit`` characters."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _label(label: str) -> str:
    fault = label_fault(label) or (f"{len(label)} characters" if len(label) > LABEL_LENGTH else None)
    if fault is not None:
        raise ValueError(f"{shown(label)} is not a file name: {fault}; allowed: {LABEL_RULE}")
    return label


class ComponentConfig(Strict):
    name: str
    label: Annotated[str, Field(min_length=1), AfterValidator(_label)] | None = None
    """Name shown in reports and part of the run's file name; default: name plus the parameters
    given, e.g. de[F=0.8]."""
    params: dict[str, Any] = {}


class PretrainConfig(Strict):
    optimizer: str = "adam"
    """A gradient optimizer from the registry."""
    params: dict[str, Any] = {}
    epochs: float = Field(gt=0, le=1e6)
    """Passes over the training set, charged as 3 forward-equivalent samples per sample."""


class InitConfig(Strict):
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


Seed = Annotated[int, Field(strict=True, ge=0, lt=SEED_LIMIT)]


def distinct_seeds(seeds: list[int]) -> list[int]:
    repeated = sorted(seed for seed, times in Counter(seeds).items() if times > 1)
    if repeated:
        raise ValueError(f"seeds must be distinct, {repeated[0]} repeats")
    return seeds


class TuningConfig(Strict):
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
        return distinct_seeds(seeds)

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
            steps=None if evaluation.steps is None else math.ceil(f * evaluation.steps),
        )


SUITE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
"""A suite's name: the default results folder and ``suites/<name>.yaml`` in it."""


class SuiteConfig(Strict):
    name: str | None = Field(None, min_length=1, pattern=SUITE_NAME)
    """Default: the file's name without .yaml."""
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
        return distinct_seeds(seeds)
