"""Tuning inside ``dfo-bench run``: every study of the suite, in rounds, through the suite's executor.

Each round asks the next trial of every unfinished study (all remaining trials at once for the
random sampler, whose draws ignore the history) and hands all their runs (trial × tuning seed) to
the executor at once, so studies run side by side on the workers while a TPE study stays
sequential (its sampler sees every earlier trial). Runs already stored are not handed out again
(see ``dfo_bench.tuning.study`` on resuming); each trial is scored from its stored runs. Every
study's record is rewritten as its trials are asked and scored. When every study has spent its
trials, the chosen configurations' evaluation runs are returned for the suite loop to run with
the suite's other runs.
"""

from __future__ import annotations

from collections.abc import Callable

from dfo_bench.executors.base import RunSummary
from dfo_bench.ranges import describe, ranges_json
from dfo_bench.spec import RunSpec
from dfo_bench.store import ChosenTrial, ResultStore, StudyRecord, StudyTrial
from dfo_bench.suite import Suite
from dfo_bench.tuning.config import StudyPlan
from dfo_bench.tuning.study import TuningStudy

RunSpecs = Callable[[list[RunSpec]], list[RunSummary]]
"""Runs specs through the suite's executor and stores their results (the suite loop's)."""


def tune(
    suite: Suite,
    store: ResultStore,
    run_specs: RunSpecs,
    stored: Callable[[RunSpec], bool],
    skipped: Callable[[list[RunSpec]], None] = lambda specs: None,
) -> list[RunSpec]:
    """Run every study of ``suite`` to its trial budget; returns the evaluation runs of the tuned
    entries. ``stored(spec)``: whether a run need not run (already stored); ``skipped(specs)``:
    these runs, counted in advance, will not run here (stored, or shared with an earlier trial)."""
    studies = []
    for plan in suite.studies:
        if plan.ranges:
            studies.append(TuningStudy(plan))
        else:
            store.write_study(study_record(plan, None, []))
    while True:
        active = [study for study in studies if not study.finished]
        if not active:
            break
        asked = [(study, study.ask()) for study in active for _ in range(study.batch)]
        for study in active:  # the runs asked for, for dfo-bench status while they run
            store.write_study(study_record(study.plan, study, []))
        todo: dict[str, RunSpec] = {}
        left: list[RunSpec] = []
        for _, trial in asked:
            for spec in trial.specs:
                if spec.run_id not in todo and not stored(spec):
                    todo[spec.run_id] = spec
                else:
                    left.append(spec)
        if left:
            skipped(left)
        if todo:
            run_specs(list(todo.values()))
        for study, trial in asked:
            study.tell(trial, [store.final_metric(run_id, study.plan.metric) for run_id in trial.record.run_ids])
            store.write_study(study_record(study.plan, study, []))
    evaluation = []
    for study in studies:
        specs = study.evaluation_specs()
        store.write_study(study_record(study.plan, study, specs))
        evaluation += specs
    return evaluation


def study_record(plan: StudyPlan, study: TuningStudy | None, evaluation: list[RunSpec]) -> StudyRecord:
    """The record of ``plan``'s study as it stands (``study`` None: the entry is not tuned), with
    the evaluation runs its choice led to (none until the study has chosen)."""
    best = study.best() if study else None
    if plan.not_tuned:
        status = plan.not_tuned
    elif study is None or not study.finished:
        status = "in progress"
    else:
        status = "tuned" if best else "not tuned (no trial completed)"
    return StudyRecord(
        suite=plan.suite,
        problem_label=plan.problem.label,
        optimizer_label=plan.optimizer.label,
        optimizer=plan.optimizer.name,
        status=status,
        metric=plan.metric,
        direction=plan.direction,
        sampler=plan.sampler,
        sampler_seed=plan.sampler_seed,
        trials_requested=plan.trials,
        include_given=plan.include_given,
        given=plan.given(),
        tuning_seeds=list(plan.tuning_seeds),
        tuning_budget=plan.tuning_budget.model_dump(mode="json", exclude_none=True),
        space=ranges_json(plan.ranges),
        space_text=describe(plan.ranges),
        entry_params=plan.optimizer.params.model_dump(mode="json", exclude_defaults=True),
        trials=[
            StudyTrial(number=r.number, params=r.params, value=r.value, state=r.state, run_ids=r.run_ids)
            for r in (study.records if study else [])
        ],
        best=None if best is None else ChosenTrial(number=best.number, params=best.params, value=best.value),
        evaluation_run_ids=[spec.run_id for spec in evaluation],
    )
