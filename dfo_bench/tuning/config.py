"""What a suite's ``tuning:`` block asks for, resolved per (problem, optimizer entry).

The suite model (``dfo_bench.suite.schema.TuningConfig``) validates the block's fields; here each
entry's ranges are resolved (the optimizer's declared ``tuning_ranges``, with the entry's ``tune:``
ranges on top) and checked against the optimizer's ``Params``: every named parameter exists, and
the ends of every range (every choice) give valid parameters together with the entry's own. The
result is a ``StudyPlan``: everything a study needs to ask trials and turn them into run specs.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from dfo_bench.budget import BudgetLimits
from dfo_bench.optimizers.base import Optimizer
from dfo_bench.optuna_study import Sampler
from dfo_bench.ranges import Range, Ranges, parse_range
from dfo_bench.seeding import derive_seed
from dfo_bench.settings import resolve_settings
from dfo_bench.spec import OptimizerSpec, ProblemSpec, RunSpec, TuningTag

MAXIMISED = ("val_accuracy", "val_f1")
MINIMISED = ("val_loss", "train_loss")
METRICS = (*MAXIMISED, *MINIMISED)
"""What a study may score trials on: final values of the stored run (accuracies and macro-F1 are
maximised, losses minimised)."""

CLASSIFIER_METRICS = ("val_accuracy", "val_f1")
"""Only problems with data (classifiers) measure these; test functions measure losses only."""

NOT_TUNED_FALSE = "not tuned (tune: false)"
NOT_TUNED_EMPTY = "not tuned (no search space)"


class TuneError(ValueError):
    """A bad ``tune:`` entry: ``field`` (below ``tune``) and what is wrong, for the suite's one line."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err["loc"])
    text = err["msg"].removeprefix("Value error, ")
    return (f"{loc}: " if loc else "") + text


def _kind(annotation: Any) -> str | None:
    """'int' or 'float' for a numeric parameter (``int | None`` counts as int); None otherwise."""
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) else ()
    for candidate in (annotation, *options):
        if candidate is int:
            return "int"
        if candidate is float:
            return "float"
    return None


def _range(cls: type[Optimizer], name: str, given: Any, declared: Ranges) -> Range:
    allowed = "{low, high, log} or {choices: [...]}, or false to leave it at its value"
    if not isinstance(given, dict):
        raise TuneError(name, f"a range is {allowed}; got {given!r}")
    kind = given.get("kind")
    if kind is None:
        if "choices" in given:
            kind = "categorical"
        elif name in ENTRY_SETTINGS:
            kind = "int"
        elif name in declared:
            kind = declared[name].kind
        else:
            kind = _kind(cls.Params.model_fields[name].annotation)
            if kind is None:
                raise TuneError(name, f"{name} is not a number: give choices: [...]")
    try:
        return parse_range({**given, "kind": kind})
    except ValidationError as exc:
        raise TuneError(name, _message(exc) + f"; allowed: {allowed}") from None


ENTRY_SETTINGS = ("super_batch",)
"""Settings of an optimizer entry, not of its ``Params``, that a ``tune:`` block may range over:
``super_batch`` (samples per evaluation), which HBDE's protocol tunes."""


def _entry_range(cls: type[Optimizer], name: str, given: Any) -> Range:
    r = _range(cls, name, given, cls.tuning_ranges)
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in r.extremes()):
        raise TuneError(name, f"{name} takes positive whole numbers; got {given!r}")
    return r


def resolve_ranges(cls: type[Optimizer], params: dict[str, Any], tune: bool | dict[str, Any]) -> tuple[Ranges, str | None]:
    """The entry's tuning ranges and, when it is not tuned, why (``NOT_TUNED_*``); ``TuneError``
    for a range that names no parameter of ``cls`` or could sample an invalid value."""
    if tune is False:
        return {}, NOT_TUNED_FALSE
    ranges: dict[str, Range] = dict(cls.tuning_ranges)
    fields = cls.Params.model_fields
    for name, given in (tune if isinstance(tune, dict) else {}).items():
        if name not in fields and name not in ENTRY_SETTINGS:
            allowed = ", ".join([*fields, *ENTRY_SETTINGS])
            raise TuneError(str(name), f"unknown parameter of {cls.name}; allowed: {allowed}")
        if given is False:
            ranges.pop(name, None)
        elif name in ENTRY_SETTINGS:
            ranges[name] = _entry_range(cls, name, given)
        else:
            ranges[name] = _range(cls, name, given, cls.tuning_ranges)
    for name, r in ranges.items():
        if name in ENTRY_SETTINGS:
            continue
        for value in r.extremes():
            try:
                cls.Params(**{**params, name: value})
            except ValidationError as exc:
                raise TuneError(name, f"sampling {value!r} gives invalid parameters: {_message(exc)}") from None
    return ranges, (None if ranges else NOT_TUNED_EMPTY)


def direction(metric: str) -> Literal["maximize", "minimize"]:
    return "maximize" if metric in MAXIMISED else "minimize"


@dataclass(frozen=True)
class StudyPlan:
    """One study: a (problem, optimizer entry) pair of a suite with ``tuning:``.

    ``ranges`` empty means the entry is not tuned (``not_tuned`` says why); its evaluation runs are
    then ordinary runs of the suite. Otherwise ``trials`` configurations are sampled, each run on
    every tuning seed with ``tuning_budget``, and the best one runs on the evaluation seeds."""

    suite: str
    problem: ProblemSpec
    optimizer: OptimizerSpec
    """The entry as the suite gives it: its label, parameters (sampled ones replaced), space."""
    ranges: Ranges
    """What the study samples (parameter name → range); every other parameter keeps the entry's value."""
    not_tuned: str | None
    trials: int
    sampler: Sampler
    metric: str
    include_given: bool
    """Ask the entry's own configuration first (when it lies within the ranges)."""
    tuning_seeds: tuple[int, ...]
    tuning_budget: BudgetLimits
    evaluation_seeds: tuple[int, ...]
    evaluation_budget: BudgetLimits
    checkpoints: int
    device: Literal["auto", "cpu", "cuda"]
    threads: int

    @property
    def direction(self) -> Literal["maximize", "minimize"]:
        return direction(self.metric)

    @property
    def sampler_seed(self) -> int:
        """Seeds the study's sampler (32 bits, what Optuna's samplers take): the same suite asks
        the same trials, on any machine."""
        return derive_seed(0, "tuning", self.sampler, list(self.tuning_seeds), self.problem.label, self.optimizer.label) % 2**32

    def given(self) -> dict[str, Any] | None:
        """The entry's own values of the ranged parameters (the first trial with ``include_given``);
        None when one lies outside its range (e.g. Adam's lr = 100 against lr∈[1e-5, 1e-2]) or is
        unset (a ``super_batch`` the entry does not give), where it is no candidate of the study,
        and when ``include_given`` is off."""
        if not self.ranges or not self.include_given:
            return None
        values: dict[str, Any] = {}
        for name, r in self.ranges.items():
            value = getattr(self.optimizer, name) if name in ENTRY_SETTINGS else getattr(self.optimizer.params, name)
            if not r.contains(value):
                return None
            values[name] = value
        return values

    def configured(self, sampled: dict[str, Any]) -> OptimizerSpec:
        """The entry with ``sampled`` values in place of its own (already validated ranges)."""
        cls_params = type(self.optimizer.params)
        given = self.optimizer.params.model_dump(exclude_defaults=True)
        params = {k: v for k, v in sampled.items() if k not in ENTRY_SETTINGS}
        settings = {k: v for k, v in sampled.items() if k in ENTRY_SETTINGS}
        return self.optimizer.model_copy(update={"params": cls_params(**(given | params)), **settings})

    def _spec(self, optimizer: OptimizerSpec, seed: int, budget: BudgetLimits, tuning: TuningTag | None) -> RunSpec:
        return RunSpec(
            suite=self.suite,
            problem=self.problem,
            optimizer=optimizer,
            seed=seed,
            budget=budget,
            settings=resolve_settings(self.problem, optimizer),
            checkpoints=self.checkpoints,
            device=self.device,
            threads=self.threads,
            tuning=tuning,
        )

    def trial_specs(self, trial: int, sampled: dict[str, Any]) -> list[RunSpec]:
        """The runs of one trial: the sampled configuration on every tuning seed."""
        optimizer = self.configured(sampled)
        tag = TuningTag(trial=trial, metric=self.metric)
        return [self._spec(optimizer, seed, self.tuning_budget, tag) for seed in self.tuning_seeds]

    def evaluation_specs(self, sampled: dict[str, Any]) -> list[RunSpec]:
        """The reported runs: the chosen configuration on the evaluation seeds."""
        optimizer = self.configured(sampled)
        return [self._spec(optimizer, seed, self.evaluation_budget, None) for seed in self.evaluation_seeds]

    @property
    def tuning_runs(self) -> int:
        """Tuning runs the study may need: every trial on every tuning seed."""
        return self.trials * len(self.tuning_seeds)

    @property
    def runs_at_most(self) -> int:
        """Runs the study may still need (trials on every tuning seed, then the evaluation seeds)."""
        return self.tuning_runs + len(self.evaluation_seeds)
