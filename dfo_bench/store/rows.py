"""The rows of a run's Parquet file: one row per checkpoint, every row repeating the run's metadata.

Flat columns, no pickles, so the report can filter and group with pandas alone; the metadata
also says what produced the run (package versions, host, git commit).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from dfo_bench.hashing import canonical_json
from dfo_bench.problems.metrics import metrics_json
from dfo_bench.record import RunResult

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
        "budget_steps": spec.budget.steps,
        "device": result.device,
        "threads": spec.threads,
        "dim": result.dim,
        "space": canonical_json(spec.optimizer.space.model_dump(mode="json")),
        "super_batch": spec.settings.super_batch,
        "search_dim": result.search_dim,
        "declared_metrics": metrics_json(result.metrics) if result.metrics is not None else None,
        # Only multi-objective runs have it: single-objective files keep their columns.
        **({"reference_point": json.dumps(result.reference_point)} if result.reference_point is not None else {}),
        "init": canonical_json(spec.problem.pretrain.model_dump(mode="json")) if spec.problem.pretrain else None,
        "identity": canonical_json(spec.identity()),
        "phase": spec.phase,
        "tuning_trial": spec.tuning.trial if spec.tuning else None,
        "tuning_metric": spec.tuning.metric if spec.tuning else None,
        **{f"pretrain_{k}": v for k, v in (result.pretrain or dict.fromkeys(PRETRAIN_COLUMNS)).items()},
        "setup_seconds": result.setup_seconds,
        "probe_gflops": result.speed.gflops if result.speed else None,
        "probe_gbps": result.speed.gbps if result.speed else None,
        # bytes, None where not measured (dfo_bench.memory says what each means)
        "peak_rss_bytes": result.memory.peak_rss if result.memory else None,
        "rss_increase_bytes": result.memory.rss_increase if result.memory else None,
        "peak_cuda_bytes": result.memory.peak_cuda if result.memory else None,
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
    seconds = float(final["seconds"]) if "seconds" in final else 0.0  # the run's clock: the search, checkpoints paused
    meta["evaluations_per_second"] = float(final["evaluations"]) / seconds if seconds > 0 else None
    frame = pd.concat([pd.DataFrame([meta] * len(trace)), trace], axis=1)
    return frame
