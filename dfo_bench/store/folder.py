"""``ResultStore``: every path of a results folder, and every file read or written there.

Files appear complete or not at all (written to a temporary name, fsynced, renamed), so a killed
suite never leaves half a run, half a marker or half a study record.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from dfo_bench.atomic import process_exists, remove_stale_temporaries, write_atomically
from dfo_bench.hashing import digest
from dfo_bench.record import RunResult
from dfo_bench.spec import RunSpec
from dfo_bench.store.records import EVALUATION, PlanRecord, RunningMarker, StoredRun, StudyRecord
from dfo_bench.store.rows import to_frame

SUMMARY_COLUMNS = ("run_id", "problem_label", "optimizer_label", "seed", "status", "phase")
"""What ``StoredRun`` reads of a file (``phase`` is absent from files written before tuning existed)."""


class ResultStore:
    """One results folder, laid out as

    - ``runs/<run_id>.parquet``: one file per run (``rows.to_frame``);
    - ``running/<run_id>.json``: a marker per run being executed;
    - ``suites/<suite>.yaml``: a copy of each suite that ran there;
    - ``tuning/<problem>__<optimizer>__<hash>.json``: a record per tuning study;
    - ``cache/``: what runs share (pre-trained weights); ``slurm/``: submitit's files.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._runs = self.root / "runs"

    # Runs.

    def path(self, run_id: str) -> Path:
        return self._runs / f"{run_id}.parquet"

    def write(self, result: RunResult) -> Path:
        return write_atomically(self.path(result.spec.run_id), lambda tmp: to_frame(result).to_parquet(tmp, index=False))

    def status(self, run_id: str) -> str | None:
        """'ok', 'failed', or None when the run has no stored result."""
        path = self.path(run_id)
        if not path.exists():
            return None
        return str(pd.read_parquet(path, columns=["status"])["status"].iloc[0])

    def final_metric(self, run_id: str, metric: str) -> float | None:
        """``final_<metric>`` of a stored ok run (NaN when not measured at the end); None when the
        run is not stored, failed, or has no such column."""
        path = self.path(run_id)
        if not path.exists():
            return None
        column = f"final_{metric}"
        if column not in pq.read_schema(path).names:
            return None
        row = pd.read_parquet(path, columns=["status", column]).iloc[0]
        return float(row[column]) if row["status"] == "ok" else None

    def stored_runs(self) -> list[StoredRun]:
        """A summary of every stored run, in run-id order (reads a few columns of each file)."""
        runs = []
        for path in self._files():
            columns = [c for c in SUMMARY_COLUMNS if c in pq.read_schema(path).names]
            row = pd.read_parquet(path, columns=columns).iloc[0]
            runs.append(
                StoredRun(
                    run_id=str(row["run_id"]),
                    problem_label=str(row["problem_label"]),
                    optimizer_label=str(row["optimizer_label"]),
                    seed=int(row["seed"]),
                    phase=str(row.get("phase", EVALUATION)),
                    status=str(row["status"]),
                )
            )
        return runs

    def load(self) -> pd.DataFrame:
        """Every stored run's rows; raises FileNotFoundError when there are none."""
        files = self._files()
        if not files:
            raise FileNotFoundError(f"{self._runs}: no stored results")
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)

    def _files(self) -> list[Path]:
        return sorted(self._runs.glob("*.parquet"))

    @property
    def cache_dir(self) -> Path:
        """What runs share across suites of this folder (pre-trained weights)."""
        return self.root / "cache"

    @property
    def slurm_dir(self) -> Path:
        """submitit's pickled tasks and logs."""
        return self.root / "slurm"

    # Running markers. A worker writes one when its run starts and removes it when the result is
    # stored or the run stops: what ``dfo-bench status`` and the progress bar count as running. A
    # worker killed outright leaves its marker; the next suite on this folder removes it (same
    # host, process gone), or it goes when its run is stored.

    def _marker(self, run_id: str) -> Path:
        return self.root / "running" / f"{run_id}.json"

    def mark_running(self, spec: RunSpec) -> None:
        marker = {
            "run_id": spec.run_id,
            "problem_label": spec.problem.label,
            "optimizer_label": spec.optimizer.label,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        write_atomically(self._marker(spec.run_id), lambda tmp: tmp.write_text(json.dumps(marker)))

    def unmark_running(self, run_id: str) -> None:
        self._marker(run_id).unlink(missing_ok=True)

    def running_markers(self) -> list[RunningMarker]:
        """The markers of runs being executed (one that vanishes while read, or is not a marker, is left out)."""
        markers = []
        for path in sorted((self.root / "running").glob("*.json")):
            try:
                given = json.loads(path.read_text())
                markers.append(
                    RunningMarker(
                        run_id=str(given["run_id"]),
                        problem_label=str(given["problem_label"]),
                        optimizer_label=str(given["optimizer_label"]),
                        host=str(given["host"]),
                        pid=int(given["pid"]),
                        started_at=str(given["started_at"]),
                    )
                )
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return markers

    def remove_stale_temporaries(self) -> None:
        """Delete temporary files of writers that were killed (their process is gone), and the
        running markers they left on this host."""
        remove_stale_temporaries(self.root)
        for marker in self.running_markers():
            if marker.host == socket.gethostname() and not process_exists(marker.pid):
                self.unmark_running(marker.run_id)

    # Suite copies: what a results folder expects (``dfo-bench status`` counts their pending runs).

    def write_suite_copy(self, name: str, text: str) -> Path:
        """Keep ``text`` (the suite as it ran, YAML) as the copy of suite ``name``."""
        return write_atomically(self.root / "suites" / f"{name}.yaml", lambda tmp: tmp.write_text(text))

    def suite_copies(self) -> list[Path]:
        return sorted((self.root / "suites").glob("*.yaml"))

    # Study records, one per (problem, optimizer entry) of a tuned suite.

    def _study(self, problem_label: str, optimizer_label: str) -> Path:
        labels = [problem_label, optimizer_label]
        name = f"{problem_label}__{optimizer_label}__{digest(labels, 8)}".replace("/", "_")
        return self.root / "tuning" / f"{name}.json"

    def write_study(self, record: StudyRecord) -> Path:
        text = json.dumps(record.model_dump(mode="json"), indent=1, sort_keys=True) + "\n"
        return write_atomically(self._study(record.problem_label, record.optimizer_label), lambda tmp: tmp.write_text(text))

    def study(self, problem_label: str, optimizer_label: str) -> StudyRecord | None:
        """The record of the study of this pair; None when there is none or it cannot be read."""
        return _read_study(self._study(problem_label, optimizer_label))

    def studies(self) -> list[StudyRecord]:
        """Every readable study record of the folder, in file-name order."""
        records = [_read_study(path) for path in sorted((self.root / "tuning").glob("*.json"))]
        return [record for record in records if record is not None]

    # Plans: what ``dfo-bench run`` estimated before running a suite, and how long it took, beside
    # the suite's copy (``suites/<suite>.plan.json``).

    def write_plan(self, record: PlanRecord) -> Path:
        text = json.dumps(record.model_dump(mode="json"), indent=1, sort_keys=True) + "\n"
        return write_atomically(self.root / "suites" / f"{record.suite}.plan.json", lambda tmp: tmp.write_text(text))

    def plans(self) -> list[PlanRecord]:
        """Every readable plan of the folder, in suite-name order (a damaged one is left out)."""
        plans = []
        for path in sorted((self.root / "suites").glob("*.plan.json")):
            try:
                plans.append(PlanRecord.model_validate(json.loads(path.read_text())))
            except (OSError, ValueError):  # vanished, or not a plan (pydantic's ValidationError is a ValueError)
                continue
        return plans


def _read_study(path: Path) -> StudyRecord | None:
    try:
        return StudyRecord.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError):  # absent, vanished, or not a record (pydantic's ValidationError is a ValueError)
        return None
