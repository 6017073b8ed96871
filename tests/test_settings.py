"""One place decides a run: the settings a suite resolves into each run spec are the ones the run
uses, records and reports, for every entry of every shipped suite (tuning plans included)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import torch

from dfo_bench.errors import ConfigError
from dfo_bench.problems.base import Problem
from dfo_bench.record import failed_result
from dfo_bench.registry import problems
from dfo_bench.report.meta import run_configurations
from dfo_bench.runner import objective_for
from dfo_bench.spec import RunSpec
from dfo_bench.store import to_frame
from dfo_bench.suite import Suite, load_suite

from .conftest import REPO, SHARED_DATA

SUITES = sorted((REPO / "suites").glob("*.yaml"))
MISSING_DATA = re.compile(r": no (CIFAR-\d+ data|MNIST IDX files) ")
"""How a suite whose data is not on this machine is refused (e.g. CIFAR-100, never shipped here)."""


@pytest.fixture(autouse=True)
def _shared_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped suites find their data through $DFO_BENCH_DATA, as their comments say."""
    if SHARED_DATA.is_dir():
        monkeypatch.setenv("DFO_BENCH_DATA", str(SHARED_DATA))


def _suite(path: Path) -> Suite:
    try:
        return load_suite(path)
    except ConfigError as exc:
        if MISSING_DATA.search(str(exc)):
            pytest.skip(str(exc))
        raise


def _entries(suite: Suite) -> list[RunSpec]:
    """One spec per (problem, optimizer entry): its first run, or for a tuned entry the first
    tuning run of its own configuration and of each end of a tuned super-batch range."""
    first: dict[tuple[str, str], RunSpec] = {}
    for spec in suite.runs:
        first.setdefault((spec.problem.label, spec.optimizer.label), spec)
    specs = list(first.values())
    for plan in suite.studies:
        sampled: list[dict[str, int]] = [{}]
        if "super_batch" in plan.ranges:
            sampled += [{"super_batch": int(v)} for v in plan.ranges["super_batch"].extremes()]
        specs += [plan.trial_specs(0, values)[0] for values in sampled]
        specs += plan.evaluation_specs({})[:1]
    return specs


def _expected_samples(spec: RunSpec, problem: Problem) -> int:
    """Forward-equivalent samples one evaluation costs under the spec's settings: the problem's own
    cost where it has one (a training per evaluation), else the super-batch, else the training set."""
    return problem.evaluation_samples or spec.settings.super_batch or problem.train_size or 1


@pytest.mark.parametrize("path", SUITES, ids=[p.stem for p in SUITES])
def test_every_entry_runs_records_and_reports_the_settings_of_its_spec(path: Path) -> None:
    suite = _suite(path)
    built: dict[str, Problem] = {}
    for spec in _entries(suite):
        key = spec.problem.model_dump_json()
        if key not in built:
            built[key] = problems.get(spec.problem.name).from_config(spec.problem.params, spec.seed, torch.device("cpu"))
        problem = built[key]
        objective = objective_for(spec, problem, problem.initial_point())
        what = f"{path.name}: {spec.problem.label} × {spec.optimizer.label}"
        assert objective.samples_per_evaluation == _expected_samples(spec, problem), what
        if spec.settings.super_batch is not None:
            assert problem.train_size is not None and spec.settings.super_batch <= problem.train_size, what
        stored = to_frame(failed_result(spec, None)).iloc[0]
        assert (None if pd.isna(stored["super_batch"]) else stored["super_batch"]) == spec.settings.super_batch, what
        shown = run_configurations(pd.DataFrame([stored]))["super-batch"].iloc[0]
        assert shown == ("whole training set" if spec.settings.super_batch is None else f"{spec.settings.super_batch:,}"), what


def test_an_entry_without_a_super_batch_is_scored_on_the_problems_own() -> None:
    """The bug this guards: cifar-cpu's ``de`` gives none, its problem says 200 images; the run was
    scored on 200 while the store and the report said 'whole training set'."""
    suite = _suite(REPO / "suites" / "cifar-cpu.yaml")
    spec = next(s for s in suite.runs if s.optimizer.name == "de")
    assert spec.optimizer.super_batch is None and spec.settings.super_batch == 200
    problem = problems.get(spec.problem.name).from_config(spec.problem.params, spec.seed, torch.device("cpu"))
    assert objective_for(spec, problem, problem.initial_point()).samples_per_evaluation == 200
    assert to_frame(failed_result(spec, None))["super_batch"].iloc[0] == 200


def test_a_problems_box_is_resolved_into_the_spec() -> None:
    suite = _suite(REPO / "suites" / "mo-zdt1.yaml")
    assert {s.settings.bounds for s in suite.runs} == {(0.0, 1.0)}
    quickstart = _suite(REPO / "suites" / "quickstart.yaml")
    assert {s.settings.bounds for s in quickstart.runs} == {None}


def test_runs_stored_before_the_effective_value_report_the_problems_own() -> None:
    """Older files left the column empty where the problem's ``super_batch`` parameter decided."""

    def row(label: str, stored: float | None, problem_params: dict[str, int | None]) -> dict[str, object]:
        return {
            "optimizer_label": label,
            "optimizer": label,
            "optimizer_params": "{}",
            "space": "{}",
            "super_batch": stored,
            "budget_evaluations": 500,
            "budget_samples": None,
            "budget_seconds": None,
            "init": None,
            "problem_params": json.dumps(problem_params),
        }

    rows = pd.DataFrame(
        [
            row("de", None, {"super_batch": 200}),  # stored before: the problem's own decided
            row("ga", None, {"super_batch": None}),
            row("hbde", 359.0, {"super_batch": 200}),
        ]
    )
    shown = run_configurations(rows).set_index("optimizer")["super-batch"].to_dict()
    assert shown == {"de": "200", "ga": "whole training set", "hbde": "359"}
