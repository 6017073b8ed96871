"""Tuning inside ``dfo-bench run``: every study of the suite, in rounds, through the suite's executor.

Each round asks the next trial of every unfinished study (all remaining trials at once for the
random sampler, whose draws ignore the history) and hands all their runs (trial × tuning seed) to
the executor at once, so studies run side by side on the workers while a TPE study stays
sequential (its sampler sees every earlier trial). Runs already stored are not handed out again
(see ``dfo_bench.tuning.study`` on resuming). When every study has spent its trials, the chosen
configurations' evaluation runs are returned for the suite loop to run with the suite's other runs.
"""

from __future__ import annotations

from collections.abc import Callable

from dfo_bench.executors.base import RunSummary
from dfo_bench.spec import RunSpec
from dfo_bench.store import ResultStore
from dfo_bench.suite import Suite
from dfo_bench.tuning.study import TuningStudy, write_record

RunSpecs = Callable[[list[RunSpec]], list[RunSummary]]
"""Runs specs through the suite's executor and stores their results (the suite loop's)."""


def tune(
    suite: Suite,
    store: ResultStore,
    run_specs: RunSpecs,
    stored: Callable[[RunSpec], bool],
    skipped: Callable[[int], None] = lambda n: None,
) -> list[RunSpec]:
    """Run every study of ``suite`` to its trial budget; returns the evaluation runs of the tuned
    entries. ``stored(spec)``: whether a run need not run (already stored); ``skipped(n)``: n of
    the runs counted in advance will not run here (stored, or shared with an earlier trial)."""
    studies = []
    for plan in suite.studies:
        if plan.ranges:
            studies.append(TuningStudy(plan))
        else:
            write_record(store, plan, None, [])
    while True:
        active = [study for study in studies if not study.finished]
        if not active:
            break
        asked = [(study, study.ask()) for study in active for _ in range(study.batch)]
        for study in active:  # the runs asked for, for dfo-bench status while they run
            write_record(store, study.plan, study, [])
        todo: dict[str, RunSpec] = {}
        for _, trial in asked:
            for spec in trial.specs:
                if spec.run_id not in todo and not stored(spec):
                    todo[spec.run_id] = spec
        skipped(sum(len(trial.specs) for _, trial in asked) - len(todo))
        if todo:
            run_specs(list(todo.values()))
        for study, trial in asked:
            study.tell(trial, store)
            write_record(store, study.plan, study, [])
    evaluation = []
    for study in studies:
        specs = study.evaluation_specs()
        write_record(store, study.plan, study, specs)
        evaluation += specs
    return evaluation
