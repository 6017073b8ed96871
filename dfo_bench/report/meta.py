"""Where the results came from, read from the metadata every stored row repeats."""

from __future__ import annotations

import json

import pandas as pd


def _distinct(values: pd.Series) -> list[str]:
    return sorted({str(v) for v in values.dropna()})


def _versions(text: str) -> str:
    found = json.loads(text)
    return ", ".join(f"{name} {found[name]}" for name in sorted(found) if found[name])


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def describe_runs(runs: pd.DataFrame) -> dict[str, str]:
    """Suites, devices, package versions, git commits and run counts, as label -> text."""
    status = runs.drop_duplicates("run_id")["status"]
    return {
        "Suites": ", ".join(_distinct(runs["suite"])),
        "Devices": ", ".join(_distinct(runs["device"])),
        "Versions": "; ".join(_versions(text) for text in _distinct(runs["versions"])),
        "Git commit": ", ".join(_distinct(runs["git_commit"])) or "not recorded",
        "Runs": f"{len(status)} ({(status == 'ok').sum()} ok, {(status == 'failed').sum()} failed)",
        "Started": f"{runs['started_at'].min()} to {runs['started_at'].max()}",
    }


def budget_text(runs: pd.DataFrame) -> str:
    """The budgets of one problem's runs, e.g. 'samples 300,000' (several when suites differ)."""
    columns = {"budget_evaluations": "evaluations", "budget_samples": "samples", "budget_seconds": "seconds"}
    budgets = runs[list(columns)].drop_duplicates()
    texts = [
        ", ".join(f"{name} {_number(row[column])}" for column, name in columns.items() if pd.notna(row[column]))
        for _, row in budgets.iterrows()
    ]
    return "; ".join(sorted(texts))
