"""What tuning cost and chose, per (problem, optimizer entry): from the study records and the
stored tuning runs (``phase: tuning``), which the report's other tables never include.

Cost is the sum over an entry's distinct tuning runs (a configuration sampled twice ran once) of
the evaluations, forward-equivalent samples and seconds each run spent. Where a problem's tuning
runs ran on several machines or at speeds beyond the tolerance (``speed.check_speed``), their
seconds are also given rescaled to the median speed probe of that problem's tuning runs, as the
problems' tables do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd

from dfo_bench.report.display import DASH, Cell, TextTable, fmt
from dfo_bench.report.speed import NORMALISED_LABEL, check_speed, normalised_seconds
from dfo_bench.store import StudyRecord

COLUMNS = [
    "problem",
    "optimizer",
    "status",
    "metric",
    "sampler",
    "trials_requested",
    "trials_spent",
    "trials_failed",
    "best_trial",
    "best_value",
    "given_value",
    "tuned_params",
    "space",
    "tuning_runs",
    "tuning_evaluations",
    "tuning_samples",
    "tuning_seconds",
    "tuning_seconds_normalised",
    "tuning_seconds_comparable",
]


def _cost(runs: pd.DataFrame, optimizer: str, comparable: bool) -> dict[str, float | bool]:
    """The entry's tuning cost from ``runs``, one row per tuning run of its problem with its
    ``seconds_normalised``; ``comparable``: the speed check's verdict on those runs."""
    mine = runs[runs["optimizer_label"] == optimizer] if len(runs) else runs
    cost: dict[str, float | bool] = {"tuning_runs": float(len(mine))}
    for what in ("evaluations", "samples", "seconds"):
        column = f"final_{what}"
        cost[f"tuning_{what}"] = float(mine[column].sum()) if column in mine else 0.0
    cost["tuning_seconds_normalised"] = float(mine["seconds_normalised"].sum(skipna=False)) if len(mine) else 0.0
    cost["tuning_seconds_comparable"] = comparable
    return cost


def _problem_runs(runs: pd.DataFrame, problem: str) -> tuple[pd.DataFrame, bool]:
    """The problem's distinct tuning runs (last row of each) with their normalised seconds, and
    whether their seconds compare as they stand (``speed.check_speed``)."""
    mine = runs[runs["problem_label"] == problem].drop_duplicates("run_id", keep="last") if len(runs) else runs
    if not len(mine):
        return mine.assign(seconds_normalised=pd.Series(dtype=float)), True
    return mine.assign(seconds_normalised=normalised_seconds(mine)), check_speed(mine).comparable


def tuning_frame(studies: Sequence[StudyRecord], tuning_runs: pd.DataFrame) -> pd.DataFrame:
    """One row per study record: what was tuned, the choice, and the tuning cost (``COLUMNS``)."""
    rows = []
    by_problem = {problem: _problem_runs(tuning_runs, problem) for problem in sorted({r.problem_label for r in studies})}
    for record in studies:
        problem, optimizer = record.problem_label, record.optimizer_label
        runs, comparable = by_problem[problem]
        trials = record.trials
        best = record.best
        given = [t.value for t in trials if record.given is not None and t.number == 0]
        rows.append(
            {
                "problem": problem,
                "optimizer": optimizer,
                "status": record.status,
                "metric": record.metric,
                "sampler": record.sampler,
                "trials_requested": record.trials_requested,
                "trials_spent": sum(1 for t in trials if t.state != "running"),
                "trials_failed": sum(1 for t in trials if t.state == "failed"),
                "best_trial": best.number if best else None,
                "best_value": best.value if best else None,
                "given_value": given[0] if given else None,
                "tuned_params": json.dumps(best.params, sort_keys=True) if best else None,
                "space": record.space_text or None,
                **_cost(runs, optimizer, comparable),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["problem", "optimizer"], kind="stable").reset_index(drop=True)


def _params_text(text: object) -> str:
    if not isinstance(text, str):
        return DASH
    params = json.loads(text)
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(params.items()))


def tuning_table(frame: pd.DataFrame) -> TextTable:
    """The report's table: configuration chosen (or why none), trials, best score, cost."""
    rows = []
    for r in frame.to_dict("records"):
        tuned = r["status"] == "tuned"
        rows.append(
            [
                Cell(str(r["problem"])),
                Cell(str(r["optimizer"])),
                Cell(_params_text(r["tuned_params"]) if tuned else str(r["status"])),
                Cell(f"{r['trials_spent']} / {r['trials_requested']}" if r["trials_spent"] else DASH, r["trials_spent"]),
                Cell(f"{r['metric']} {fmt(r['best_value'], '.4f')}" if tuned else DASH, r["best_value"]),
                Cell(fmt(r["given_value"], ".4f"), r["given_value"]),
                Cell(fmt(r["tuning_evaluations"], ",.0f"), r["tuning_evaluations"]),
                Cell(fmt(r["tuning_samples"], ",.0f"), r["tuning_samples"]),
                Cell(fmt(r["tuning_seconds"], ",.1f"), r["tuning_seconds"]),
                Cell(
                    fmt(r["tuning_seconds_normalised"], ",.1f") if not r["tuning_seconds_comparable"] else DASH,
                    r["tuning_seconds_normalised"],
                ),
                Cell(str(r["space"]) if isinstance(r["space"], str) else DASH),
            ]
        )
    columns = [
        "problem",
        "optimizer",
        "tuned configuration",
        "trials",
        "best tuning score",
        "given configuration's score",
        "tuning evaluations",
        "tuning samples",
        "tuning seconds",
        f"tuning {NORMALISED_LABEL}",
        "search space",
    ]
    normalised = columns.index(f"tuning {NORMALISED_LABEL}")
    if all(r[normalised].text == DASH for r in rows):  # every problem's tuning seconds compare as they stand
        keep = [i for i in range(len(columns)) if i != normalised]
        return TextTable([columns[i] for i in keep], [[r[i] for i in keep] for r in rows])
    return TextTable(columns, rows)


def tuning_note() -> str:
    return (
        "Each tuned entry's configuration was chosen by its own seeded Optuna study on the tuning seeds, disjoint "
        "from the evaluation seeds; every other table of this report shows only the evaluation runs of the chosen "
        "configuration. Trials: spent / requested (failed trials count as spent and are never chosen). "
        "Best tuning score: the mean over the tuning seeds of the metric at the end of the run; the given "
        "configuration's score: that of trial 0, the entry's own configuration (tuning.include_given), — where it "
        "was not a trial. Cost: the sum over "
        "the entry's distinct tuning runs, not charged to the evaluation budget. Where a problem's tuning runs ran on "
        f"several machines or at speeds beyond the tolerance, '{NORMALISED_LABEL}' rescales their seconds to the median "
        "speed probe of that problem's tuning runs."
    )
