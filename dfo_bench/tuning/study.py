"""One tuning study per (problem, optimizer entry): a seeded Optuna sampler asks configurations,
the suite's executor runs them as stored runs, and each trial's score is told back.

**Why no Optuna database.** The results folder is the one source of truth: every trial is a set
of ordinary stored runs (``phase: tuning``), written atomically by whatever executor ran them,
on whatever machine. An Optuna storage (SQLite, journal file) beside it would be a second record
of the same facts that can disagree with it after a kill (trials left ``RUNNING`` forever, a run
stored whose ``tell`` never happened), would need locking on a shared file system, and would have
to be shipped with the results for a report. So the study lives in memory only and is rebuilt on
every ``dfo-bench run``: the sampler is seeded from the suite, so given the same history it asks
the same configurations again; each asked trial's runs are looked up in the store by their run
ids (which hash the configuration), and only the runs not stored are executed. Scores come from
the stored runs, ``tell`` replays them into the fresh study, and the next trial is asked from
exactly the history an uninterrupted study had: a killed and resumed tuning asks the same trials
and runs nothing twice. A trial whose values were already sampled by an earlier trial reuses its
runs (same ids), so its cost is counted once.

With ``include_given`` (the default) trial 0 is the entry's own configuration, so a study
chooses something worse on the tuning seeds than what the suite gave only if that lies outside
the space; it is one of the ``trials``, not an extra one (every entry gets the same number).

The score of a trial is the mean over the tuning seeds of ``final_<metric>`` (the metric of the
recommended point at the end of the run); a trial with a failed run or a missing metric is told
as failed and never chosen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import Trial, TrialState

from dfo_bench import optuna_study
from dfo_bench.spec import RunSpec
from dfo_bench.tuning.config import StudyPlan


@dataclass
class TrialRecord:
    number: int
    params: dict[str, Any]
    run_ids: list[str]
    value: float | None = None
    state: str = "running"
    """running, complete, or failed (a run failed or did not measure the metric)."""


@dataclass
class AskedTrial:
    trial: Trial
    record: TrialRecord
    specs: list[RunSpec]


@dataclass
class TuningStudy:
    """The in-memory Optuna study of one plan, and what the study record on disk says about it."""

    plan: StudyPlan
    study: optuna.Study = field(init=False)
    records: list[TrialRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        sampler = optuna_study.sampler(self.plan.sampler, self.plan.sampler_seed)
        self.study = optuna_study.study(sampler, [self.plan.direction])
        self.distributions = optuna_study.distributions(self.plan.ranges)
        given = self.plan.given()
        if given is not None:
            self.study.enqueue_trial(given)  # asked first; enqueued trials draw nothing from the sampler's generator

    @property
    def batch(self) -> int:
        """Trials asked at once: all that remain for the random sampler (its draws do not depend
        on the history, so asking them together asks the same trials and runs them in parallel),
        one at a time for TPE (each trial learns from every earlier one)."""
        left = self.plan.trials - len(self.records)
        return left if self.plan.sampler == "random" else min(left, 1)

    @property
    def finished(self) -> bool:
        return len(self.records) >= self.plan.trials and all(r.state != "running" for r in self.records)

    def ask(self) -> AskedTrial:
        trial = self.study.ask(self.distributions)
        params = dict(trial.params)
        specs = self.plan.trial_specs(trial.number, params)
        record = TrialRecord(trial.number, params, [spec.run_id for spec in specs])
        self.records.append(record)
        return AskedTrial(trial, record, specs)

    def tell(self, asked: AskedTrial, values: Sequence[float | None]) -> None:
        """Score the trial: the mean of ``values``, the final metric of each of its runs, read by
        the caller from the stored runs; failed when one is None or not finite (a run failed or
        did not measure the metric)."""
        if any(v is None or not math.isfinite(v) for v in values):
            asked.record.state = "failed"
            self.study.tell(asked.trial, state=TrialState.FAIL)
            return
        score = sum(v for v in values if v is not None) / len(values)
        asked.record.value = score
        asked.record.state = "complete"
        self.study.tell(asked.trial, score)

    def best(self) -> TrialRecord | None:
        """The best complete trial (the earliest among equals), or None when none completed."""
        complete = [r for r in self.records if r.state == "complete" and r.value is not None]
        if not complete:
            return None
        sign = -1.0 if self.plan.direction == "maximize" else 1.0
        return min(complete, key=lambda r: (sign * float(r.value or 0.0), r.number))

    def evaluation_specs(self) -> list[RunSpec]:
        """The chosen configuration on the evaluation seeds; the entry's own parameters when no
        trial completed (the record says so)."""
        best = self.best()
        return self.plan.evaluation_specs(best.params if best else {})
