"""Estimated against actual time: what ``dfo-bench run`` estimated before running (the plans kept
beside the suites' copies, ``dfo_bench.executors.plan``) next to what the stored runs took.

Per (problem, optimizer): the estimated search seconds of a run against the mean stored
``seconds`` (search time, the clock paused at checkpoints) of its successful evaluation runs; per
suite, the estimated wall time of the runs that were to run against the time ``dfo-bench run`` took.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dfo_bench.report.display import DASH, Cell, TextTable, fmt
from dfo_bench.report.load import TUNED_MARK
from dfo_bench.store import EVALUATION, PlanRecord

COLUMNS = ["problem", "optimizer", "runs", "estimated s per run", "actual s per run", "actual / estimated"]


def estimate_table(plans: Sequence[PlanRecord], runs: pd.DataFrame) -> tuple[TextTable, str] | None:
    """The table and its note; None when no plan estimated any of the runs."""
    estimated: dict[tuple[str, str], float] = {}
    for plan in plans:
        for group in plan.groups:
            if group.phase == EVALUATION:
                estimated.setdefault((group.problem_label, group.optimizer_label), group.search_seconds)
    done = runs[runs["status"] == "ok"].drop_duplicates("run_id")
    rows = []
    for (problem, optimizer), group in done.groupby(["problem_label", "optimizer_label"], sort=True):
        estimate = estimated.get((str(problem), str(optimizer).removesuffix(TUNED_MARK)))
        if estimate is None:
            continue
        actual = float(group["final_seconds"].mean())
        ratio = actual / estimate if estimate > 0 else float("nan")
        rows.append(
            [
                Cell(str(problem)),
                Cell(str(optimizer)),
                Cell(str(len(group)), len(group)),
                Cell(fmt(estimate, ".1f"), estimate),
                Cell(fmt(actual, ".1f"), actual),
                Cell(fmt(ratio, ".2f"), ratio),
            ]
        )
    if not rows:
        return None
    walls = [
        f"{plan.suite}: {fmt(plan.wall_seconds, '.0f') if plan.wall_seconds is not None else DASH} s estimated "
        f"on {plan.parallelism} at once, {fmt(plan.took_seconds, '.0f') if plan.took_seconds is not None else DASH} s taken"
        for plan in plans
    ]
    note = (
        "Search seconds per run (the clock paused at checkpoints), as dfo-bench run estimated them from a short "
        "calibration on the machine it started on, against the mean of the stored successful runs. The wall time of "
        "the runs that were to run, with setup and checkpoints: " + "; ".join(walls) + " (— where unknown, or interrupted)."
    )
    return TextTable(COLUMNS, rows), note
