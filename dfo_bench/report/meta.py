"""Where the results came from and how each optimizer was configured, read from the metadata
every stored row repeats."""

from __future__ import annotations

import json

import pandas as pd


def _distinct(values: pd.Series) -> list[str]:
    return sorted({str(v) for v in values.dropna()})


def _versions(text: str) -> str:
    found = json.loads(text)
    return ", ".join(f"{name} {found[name]}" for name in sorted(found) if found[name])


def _host(text: str) -> str:
    found = json.loads(text)
    return f"{found.get('cpu', '?')}, {found.get('cores', '?')} logical cores, {found.get('os', '?')}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def describe_runs(runs: pd.DataFrame) -> dict[str, str]:
    """Suites, environment (machines, devices, threads, package versions), git commits and run counts."""
    status = runs.drop_duplicates("run_id")["status"]
    hosts = _distinct(runs["host"]) if "host" in runs else []
    return {
        "Suites": ", ".join(_distinct(runs["suite"])),
        "Machines": "; ".join(_host(text) for text in hosts) or "not recorded (results stored before hosts were)",
        "Devices": ", ".join(_distinct(runs["device"])),
        "Torch threads per run": ", ".join(_distinct(runs["threads"])) if "threads" in runs else "not recorded",
        "Speed probe at each run's start": _probes(runs),
        "Versions": "; ".join(_versions(text) for text in _distinct(runs["versions"])),
        "Git commit": ", ".join(_distinct(runs["git_commit"])) or "not recorded",
        "Runs": f"{len(status)} ({(status == 'ok').sum()} ok, {(status == 'failed').sum()} failed)",
        "Started": f"{runs['started_at'].min()} to {runs['started_at'].max()}",
    }


def _probes(runs: pd.DataFrame) -> str:
    """The range of the runs' speed probes (``dfo_bench.probe``), or why there is none."""
    if "probe_gflops" not in runs or runs["probe_gflops"].isna().all():
        return "not recorded (results stored before the speed probe)"
    gflops, gbps = runs["probe_gflops"].astype(float), runs["probe_gbps"].astype(float)
    return (
        f"float32 GEMM {gflops.min():.3g}–{gflops.max():.3g} GFLOP/s (median {gflops.median():.3g}), "
        f"copy {gbps.min():.3g}–{gbps.max():.3g} GB/s (median {gbps.median():.3g})"
    )


BUDGET_COLUMNS = {
    "budget_evaluations": "evaluations",
    "budget_samples": "samples",
    "budget_seconds": "seconds",
    "budget_steps": "environment steps",
}


def _budget_row(row: pd.Series) -> str:
    """The limits of one run (a column its file predates counts as no limit)."""
    return ", ".join(f"{name} {_number(row[column])}" for column, name in BUDGET_COLUMNS.items() if pd.notna(row.get(column)))


def budget_text(runs: pd.DataFrame) -> str:
    """The budgets of one problem's runs, e.g. 'samples 300,000' (several when suites differ)."""
    budgets = runs.reindex(columns=list(BUDGET_COLUMNS)).drop_duplicates()  # files before budget_steps lack it
    return "; ".join(sorted(_budget_row(row) for _, row in budgets.iterrows()))


def _compact(text: object) -> str:
    """Canonical JSON as stored, or '—' when absent (older results, no pre-training)."""
    return "—" if text is None or (isinstance(text, float) and pd.isna(text)) else str(text)


def _super_batch(row: pd.Series) -> str:
    """Training samples each evaluation was scored on, as the run stored it. Runs stored before
    the column held what the run used left it empty where the problem's own ``super_batch``
    parameter decided; their stored problem parameters still say it."""
    value = row.get("super_batch")
    if pd.isna(value):
        value = json.loads(row["problem_params"]).get("super_batch")
    return "whole training set" if value is None or pd.isna(value) else f"{int(value):,}"


def run_configurations(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per optimizer label of one problem: its class, every hyper-parameter (defaults
    included, as stored), search space, evaluation batches, budget, start and problem parameters."""
    columns = [
        "optimizer_label",
        "optimizer",
        "optimizer_params",
        "space",
        "super_batch",
        *BUDGET_COLUMNS,
        "init",
        "problem_params",
    ]
    present = [c for c in columns if c in runs]
    first = runs.drop_duplicates("optimizer_label")[present].sort_values("optimizer_label")
    return pd.DataFrame(
        {
            "optimizer": first["optimizer_label"],
            "class": first["optimizer"],
            "hyper-parameters": first["optimizer_params"].map(_compact),
            "space": first["space"].map(_compact) if "space" in first else "—",
            "super-batch": [_super_batch(row) for _, row in first.iterrows()] if "super_batch" in first else "—",
            "budget": [_budget_row(row) for _, row in first.iterrows()],
            "start": first["init"].map(_compact) if "init" in first else "—",
            "problem parameters": first["problem_params"].map(_compact),
        }
    ).reset_index(drop=True)
