"""Results on disk: one Parquet file per run, written atomically, keyed by its configuration.

A file holds one row per checkpoint; every row repeats the run's metadata (flat columns, no
pickles), so the report can filter and group with pandas alone. A file appears complete or not
at all (write to a temporary name, fsync, rename), so a killed suite never leaves half a run.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
from datetime import datetime, timezone
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from dfo_bench.atomic import process_exists, remove_stale_temporaries, write_atomically
from dfo_bench.hashing import canonical_json
from dfo_bench.record import RunResult
from dfo_bench.spec import RunSpec

PRETRAIN_COLUMNS = ("evaluations", "samples", "seconds", "cached")
VERSIONED = ("dfo-bench", "torch", "numpy", "scipy", "pandas", "cma", "scikit-learn", "pydantic", "nevergrad", "pymoo")


@cache
def package_versions() -> str:
    """JSON of the Python version and the versions of the packages that shape results."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return json.dumps(found, sort_keys=True)


@cache
def host_description() -> str:
    """JSON of the machine a run ran on: CPU model, logical cores, OS; the report's environment."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    return json.dumps({"cpu": cpu, "cores": os.cpu_count(), "os": platform.platform()}, sort_keys=True)


def git_commit(where: Path | None = None) -> str | None:
    """The commit of the git checkout the user works in (the current directory by default),
    with ``+dirty`` when it has uncommitted changes; None outside a checkout."""
    return _git_commit(str((where or Path.cwd()).resolve()))


@cache
def _git_commit(where: str) -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5)
        if head.returncode != 0 or not head.stdout.strip():
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=where, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


def to_frame(result: RunResult) -> pd.DataFrame:
    """The run as flat rows: metadata, final metrics, and one row per checkpoint."""
    spec = result.spec
    meta = {
        "run_id": spec.run_id,
        "config_hash": spec.config_hash,
        "suite": spec.suite,
        "problem": spec.problem.name,
        "problem_label": spec.problem.label,
        "problem_params": canonical_json(spec.problem.params.model_dump(mode="json")),
        "problem_version": spec.problem.version,
        "optimizer": spec.optimizer.name,
        "optimizer_label": spec.optimizer.label,
        "optimizer_params": canonical_json(spec.optimizer.params.model_dump(mode="json")),
        "optimizer_version": spec.optimizer.version,
        "seed": spec.seed,
        "run_seed": result.run_seed,
        "budget_evaluations": spec.budget.evaluations,
        "budget_samples": spec.budget.samples,
        "budget_seconds": spec.budget.seconds,
        "device": result.device,
        "threads": spec.threads,
        "dim": result.dim,
        "space": canonical_json(spec.optimizer.space.model_dump(mode="json")),
        "super_batch": spec.settings.super_batch,
        "search_dim": result.search_dim,
        # Only multi-objective runs have it: single-objective files keep their columns.
        **({"reference_point": json.dumps(result.reference_point)} if result.reference_point is not None else {}),
        "init": canonical_json(spec.problem.pretrain.model_dump(mode="json")) if spec.problem.pretrain else None,
        "identity": canonical_json(spec.identity()),
        "phase": spec.phase,
        "tuning_trial": spec.tuning.trial if spec.tuning else None,
        "tuning_metric": spec.tuning.metric if spec.tuning else None,
        **{f"pretrain_{k}": v for k, v in (result.pretrain or dict.fromkeys(PRETRAIN_COLUMNS)).items()},
        "status": result.status,
        "error": result.error,
        "started_at": result.started_at,
        "versions": package_versions(),
        "host": host_description(),
        "git_commit": git_commit(),
    }
    trace = pd.DataFrame(result.trace)
    if trace.empty:
        trace = pd.DataFrame({"evaluations": [0]})
    trace.insert(0, "checkpoint", range(len(trace)))
    final = trace.iloc[-1]
    for column in trace.columns.drop("checkpoint"):
        meta[f"final_{column}"] = final[column]
    frame = pd.concat([pd.DataFrame([meta] * len(trace)), trace], axis=1)
    return frame


class ResultStore:
    """The results folder: ``runs/<run_id>.parquet`` plus a copy of each suite that ran there."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.runs = self.root / "runs"

    def path(self, run_id: str) -> Path:
        return self.runs / f"{run_id}.parquet"

    def status(self, run_id: str) -> str | None:
        """'ok', 'failed', or None when the run has no stored result."""
        path = self.path(run_id)
        if not path.exists():
            return None
        return str(pd.read_parquet(path, columns=["status"])["status"].iloc[0])

    def write(self, result: RunResult) -> Path:
        return write_atomically(self.path(result.spec.run_id), lambda tmp: to_frame(result).to_parquet(tmp, index=False))

    def write_text(self, name: str, text: str) -> Path:
        return write_atomically(self.root / name, lambda tmp: tmp.write_text(text))

    def load(self) -> pd.DataFrame:
        """Every stored run's rows; raises FileNotFoundError when there are none."""
        files = sorted(self.runs.glob("*.parquet"))
        if not files:
            raise FileNotFoundError(f"{self.runs}: no stored results")
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)

    def remove_stale_temporaries(self) -> None:
        """Delete temporary files of writers that were killed (their process is gone), and the
        running markers they left on this host."""
        remove_stale_temporaries(self.root)
        for marker in self.running_markers():
            if marker.get("host") == socket.gethostname() and not process_exists(int(marker.get("pid", 0))):
                self.unmark_running(str(marker["run_id"]))

    # A run being executed has a small marker file, written by its worker (atomically) when it
    # starts and removed when its result is stored or it stops: what ``dfo-bench status`` and the
    # progress bar count as running. A worker killed outright leaves its marker; it is removed by
    # the next suite on this folder (same host, process gone) or when its run is stored.

    def marker(self, run_id: str) -> Path:
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
        write_atomically(self.marker(spec.run_id), lambda tmp: tmp.write_text(json.dumps(marker)))

    def unmark_running(self, run_id: str) -> None:
        self.marker(run_id).unlink(missing_ok=True)

    def running_markers(self) -> list[dict[str, Any]]:
        """The markers of runs being executed (those that vanish while read are left out)."""
        markers = []
        for path in sorted((self.root / "running").glob("*.json")):
            try:
                markers.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        return markers
