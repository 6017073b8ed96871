"""Where a results folder stands: runs done, failed, running and pending, per optimizer.

Read from the folder alone: the stored results (``runs/``), the running markers workers write
(``running/``), and the copies of the suites that ran there (``suites/``), which say what runs
are expected. Nothing is run or written.

Tuning runs count under ``<optimizer> (tuning)``. A tuned entry's runs are known only as its
study goes (``tuning/<study>.json``): trials not yet asked count as pending runs on every tuning
seed, and the evaluation runs as pending on every evaluation seed until the study has chosen.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from dfo_bench.errors import ConfigError, DfoBenchError
from dfo_bench.store import ResultStore
from dfo_bench.suite import Suite, load_suite

STATES = ("done", "failed", "running", "pending")


@dataclass(frozen=True)
class FolderStatus:
    counts: dict[str, Counter[str]]
    """optimizer label -> state -> runs."""
    unreadable_suites: list[str]
    """Suite copies that could not be expanded here (their pending runs are not counted)."""


def folder_status(root: Path) -> FolderStatus:
    store = ResultStore(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: RESULTS: no such folder; allowed: a results folder written by dfo-bench run")
    state: dict[str, tuple[str, str]] = {}
    """run id -> (optimizer label, state)."""
    for path in sorted(store.runs.glob("*.parquet")):
        columns = ["optimizer_label", "status"] + (["phase"] if "phase" in pq.read_schema(path).names else [])
        row = pd.read_parquet(path, columns=columns).iloc[0]
        label = str(row["optimizer_label"]) + (" (tuning)" if row.get("phase") == "tuning" else "")
        state[path.stem] = (label, "done" if row["status"] == "ok" else "failed")
    for marker in store.running_markers():
        run_id = str(marker.get("run_id"))
        if run_id not in state:
            tuning = " (tuning)" if "__tuning__" in run_id else ""
            state[run_id] = (str(marker.get("optimizer_label")) + tuning, "running")
    unreadable = []
    for copy in sorted((root / "suites").glob("*.yaml")):
        try:
            suite = load_suite(copy)
        except DfoBenchError as exc:
            unreadable.append(f"{copy.name}: {exc}")
            continue
        for spec in suite.runs:
            state.setdefault(spec.run_id, (spec.optimizer.label, "pending"))
        _studies_pending(root, suite, state)
    if not state and not unreadable:
        raise ConfigError(f"{root}: no stored results or suites; run a suite first (dfo-bench run SUITE --out {root})")
    counts: dict[str, Counter[str]] = {}
    for optimizer, run_state in state.values():
        counts.setdefault(optimizer, Counter())[run_state] += 1
    return FolderStatus(counts, unreadable)


def _studies_pending(root: Path, suite: Suite, state: dict[str, tuple[str, str]]) -> None:
    """Pending runs of the suite's tuned entries, from their study records (placeholders for runs
    whose configuration is not sampled yet)."""
    for plan in suite.studies:
        if not plan.ranges:
            continue
        label, key = plan.optimizer.label, plan.key
        try:
            record = json.loads((root / "tuning" / f"{key}.json").read_text())
        except (OSError, ValueError):
            record = {}
        trials = record.get("trials", [])
        for trial in trials:
            for run_id in trial.get("run_ids", []):
                state.setdefault(str(run_id), (f"{label} (tuning)", "pending"))
        for trial in range(len(trials), plan.trials):
            for seed in plan.tuning_seeds:
                state.setdefault(f"pending:{key}:trial{trial}:seed{seed}", (f"{label} (tuning)", "pending"))
        evaluation = record.get("evaluation_run_ids") or [f"pending:{key}:seed{seed}" for seed in plan.evaluation_seeds]
        for run_id in evaluation:
            state.setdefault(str(run_id), (label, "pending"))


def render(status: FolderStatus) -> list[str]:
    """A table, one optimizer a line, and a total."""
    width = max([len("optimizer"), *(len(name) for name in status.counts)])
    lines = [f"{'optimizer':<{width}}  " + "  ".join(f"{s:>7}" for s in STATES)]
    total: Counter[str] = Counter()
    for name in sorted(status.counts):
        total.update(status.counts[name])
        lines.append(f"{name:<{width}}  " + "  ".join(f"{status.counts[name][s]:>7}" for s in STATES))
    lines.append(f"{'total':<{width}}  " + "  ".join(f"{total[s]:>7}" for s in STATES))
    lines += [f"not counted (pending unknown): {line}" for line in status.unreadable_suites]
    return lines
