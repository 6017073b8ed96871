"""What tuning cost and chose, per (problem, optimizer entry): from the study records and the
stored tuning runs (``phase: tuning``), which the report's other tables never include.

Cost is the sum over an entry's distinct tuning runs (a configuration sampled twice ran once) of
the evaluations, forward-equivalent samples and seconds each run spent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd

from dfo_bench.report.display import DASH, Cell, TextTable, fmt
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
]


def _cost(runs: pd.DataFrame, problem: str, optimizer: str) -> dict[str, float]:
    if runs.empty:
        mine = runs
    else:
        mine = runs[(runs["problem_label"] == problem) & (runs["optimizer_label"] == optimizer)].drop_duplicates("run_id")
    cost: dict[str, float] = {"tuning_runs": float(len(mine))}
    for what in ("evaluations", "samples", "seconds"):
        column = f"final_{what}"
        cost[f"tuning_{what}"] = float(mine[column].sum()) if column in mine else 0.0
    return cost


def tuning_frame(studies: Sequence[StudyRecord], tuning_runs: pd.DataFrame) -> pd.DataFrame:
    """One row per study record: what was tuned, the choice, and the tuning cost (``COLUMNS``)."""
    rows = []
    for record in studies:
        problem, optimizer = record.problem_label, record.optimizer_label
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
                **_cost(tuning_runs, problem, optimizer),
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
        "search space",
    ]
    return TextTable(columns, rows)


def tuning_note() -> str:
    return (
        "Each tuned entry's configuration was chosen by its own seeded Optuna study on the tuning seeds, disjoint "
        "from the evaluation seeds; every other table of this report shows only the evaluation runs of the chosen "
        "configuration. Trials: spent / requested (failed trials count as spent and are never chosen). "
        "Best tuning score: the mean over the tuning seeds of the metric at the end of the run; the given "
        "configuration's score: that of trial 0, the entry's own configuration (tuning.include_given), — where it "
        "was not a trial. Cost: the sum over "
        "the entry's distinct tuning runs, not charged to the evaluation budget."
    )
