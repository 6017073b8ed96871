"""Tuning: declared tuning ranges, the suite's ``tuning:`` block, seeded Optuna studies run as stored
runs, resume without duplicates, and what the report shows.

One small tuned suite (digits MLP, Adam with an absurd learning rate, 6 random trials on 2 tuning
seeds, 200 gradient steps a run) is run once per module and shared by the tests that read it.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
import torch

from dfo_bench import api, optuna_study
from dfo_bench.domain import TypedDomain
from dfo_bench.errors import ConfigError
from dfo_bench.executors import SequentialExecutor, run_suite
from dfo_bench.executors.plan import QUICK, plan_suite
from dfo_bench.executors.tuning_rounds import study_record
from dfo_bench.optimizers.base import SearchDomain
from dfo_bench.optimizers.random_search import RandomSearch
from dfo_bench.ranges import choice, integers, ranges
from dfo_bench.registry import optimizers
from dfo_bench.report import build_report, load_runs
from dfo_bench.status import folder_status
from dfo_bench.store import ResultStore
from dfo_bench.suite import load_suite
from dfo_bench.tuning.config import NOT_TUNED_EMPTY, resolve_ranges
from dfo_bench.tuning.study import TrialRecord, TuningStudy
from tests.conftest import with_changes
from tests.test_bad_input import check_line, dfo_bench, write

ABSURD = {"lr": 100.0}
"""Adam at lr = 100 on the digits MLP: the loss explodes, accuracy stays near chance."""
SHOWN = "adam-tuned (tuned)"
"""How the report labels the tuned entry: its suite label says the parameters before tuning."""

TUNED_SUITE: dict[str, Any] = {
    "name": "tuned",
    "problems": ["digits-mlp"],
    "optimizers": [
        {"name": "adam", "label": "adam-tuned", "params": ABSURD},
        {"name": "adam", "label": "adam-default", "params": ABSURD, "tune": False},
    ],
    "seeds": [0, 1],
    "budget": {"evaluations": 200},
    "checkpoints": 20,
    "device": "cpu",
    "executor": "sequential",
    "tuning": {"trials": 6, "sampler": "random", "seeds": [10, 11], "metric": "val_accuracy"},
}


def run(suite: dict[str, Any], folder: Path) -> list[Any]:
    path = write(folder, suite)
    return run_suite(load_suite(path), folder / "results", SequentialExecutor(), progress=False)


def records(results: Path) -> dict[str, dict[str, Any]]:
    return {json.loads(p.read_text())["optimizer_label"]: json.loads(p.read_text()) for p in (results / "tuning").glob("*.json")}


def stored_ids(results: Path) -> set[str]:
    return {p.stem for p in (results / "runs").glob("*.parquet")}


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tuned")
    summaries = run(TUNED_SUITE, folder)
    assert all(s.status == "ok" for s in summaries)
    return folder / "results"


def test_tuning_beats_an_absurd_default(tuned: Path) -> None:
    loaded = load_runs(tuned)
    final = loaded.runs.drop_duplicates("run_id").groupby("optimizer_label")["final_val_accuracy"].mean()
    assert final["adam-default"] < 0.3  # the absurd default stays near chance
    assert final[SHOWN] > final["adam-default"] + 0.4
    chosen = records(tuned)["adam-tuned"]
    assert chosen["status"] == "tuned" and chosen["best"]["params"]["lr"] < 1.0
    assert len(chosen["trials"]) == 6 and all(t["state"] == "complete" for t in chosen["trials"])


def test_tuning_runs_are_stored_runs_set_apart_from_the_evaluation(tuned: Path) -> None:
    loaded = load_runs(tuned)
    assert set(loaded.runs["phase"]) == {"evaluation"}
    tuning = loaded.tuning.drop_duplicates("run_id")
    assert set(tuning["phase"]) == {"tuning"} and set(tuning["seed"]) == {10, 11}
    assert set(tuning["optimizer_label"]) == {SHOWN}  # tune: false spends nothing
    assert len(tuning) <= 6 * 2 and set(loaded.runs.drop_duplicates("run_id")["seed"]) == {0, 1}
    # the evaluation runs of the tuned entry are the chosen configuration
    evaluation = loaded.runs[loaded.runs["optimizer_label"] == SHOWN].drop_duplicates("run_id")
    best = records(tuned)["adam-tuned"]["best"]["params"]
    for text in evaluation["optimizer_params"]:
        assert {k: json.loads(text)[k] for k in best} == pytest.approx(best)


def test_report_shows_tuning_and_its_cost(tuned: Path, tmp_path: Path) -> None:
    build_report(tuned, tmp_path / "report", formats=("latex",))
    table = pd.read_csv(tmp_path / "report" / "tuning.csv").set_index("optimizer")
    tuning = load_runs(tuned).tuning.drop_duplicates("run_id")
    assert table.loc[SHOWN, "status"] == "tuned"
    assert table.loc[SHOWN, "trials_spent"] == 6
    assert table.loc[SHOWN, "tuning_evaluations"] == tuning["final_evaluations"].sum() > 0
    assert table.loc[SHOWN, "tuning_samples"] == pytest.approx(tuning["final_samples"].sum())
    assert table.loc[SHOWN, "tuning_seconds"] == pytest.approx(tuning["final_seconds"].sum())
    assert table.loc["adam-default", "status"] == "not tuned (tune: false)"
    assert table.loc["adam-default", "tuning_runs"] == 0
    summary = pd.read_csv(tmp_path / "report" / "summary.csv")
    assert sorted(summary["optimizer"]) == ["adam-default", SHOWN]  # one row each: evaluation runs only
    assert "Tuning: configuration chosen" in (tmp_path / "report" / "report.tex").read_text()


def _tuning_runs_probed(tuned: Path, folder: Path, gflops: list[float]) -> None:
    """A copy of ``tuned`` whose tuning runs recorded the speed probes ``gflops`` (and one copy rate)."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    shutil.copytree(tuned, folder, ignore=shutil.ignore_patterns("index"))
    paths = sorted(p for p in (folder / "runs").glob("*.parquet") if "__tuning__" in p.name)
    assert len(paths) == len(gflops)
    for path, rate in zip(paths, gflops, strict=True):
        table = pq.read_table(path)
        for column, value in (("probe_gflops", rate), ("probe_gbps", 10.0)):
            i = table.schema.get_field_index(column)
            table = table.set_column(i, column, pa.array([value] * table.num_rows, pa.float64()))
        pq.write_table(table, path)


def test_tuning_seconds_from_another_machine_are_flagged_and_rescaled(tuned: Path, tmp_path: Path) -> None:
    from dfo_bench.report.speed import NORMALISED_LABEL

    runs = len(load_runs(tuned).tuning.drop_duplicates("run_id"))
    _tuning_runs_probed(tuned, tmp_path / "same", [50.0] * runs)
    build_report(tmp_path / "same", tmp_path / "same-report", formats=("markdown",))
    same = pd.read_csv(tmp_path / "same-report" / "tuning.csv").set_index("optimizer")
    assert bool(same.loc[SHOWN, "tuning_seconds_comparable"])
    assert f"tuning {NORMALISED_LABEL}" not in (tmp_path / "same-report" / "report.md").read_text()

    _tuning_runs_probed(tuned, tmp_path / "mixed", [150.0] + [50.0] * (runs - 1))  # one ran 3× as fast a machine
    build_report(tmp_path / "mixed", tmp_path / "mixed-report", formats=("markdown",))
    mixed = pd.read_csv(tmp_path / "mixed-report" / "tuning.csv").set_index("optimizer")
    assert not bool(mixed.loc[SHOWN, "tuning_seconds_comparable"])
    tuning = load_runs(tmp_path / "mixed").tuning.drop_duplicates("run_id", keep="last")
    factors = tuning["probe_gflops"] / tuning["probe_gflops"].median()
    assert mixed.loc[SHOWN, "tuning_seconds_normalised"] == pytest.approx((tuning["final_seconds"] * factors).sum())
    assert mixed.loc[SHOWN, "tuning_seconds"] == pytest.approx(same.loc[SHOWN, "tuning_seconds"])
    assert mixed.loc[SHOWN, "tuning_seconds_normalised"] != pytest.approx(mixed.loc[SHOWN, "tuning_seconds"])
    assert f"tuning {NORMALISED_LABEL}" in (tmp_path / "mixed-report" / "report.md").read_text()


def test_same_suite_asks_the_same_trials(tuned: Path, tmp_path: Path) -> None:
    run(TUNED_SUITE, tmp_path)
    again, first = records(tmp_path / "results")["adam-tuned"], records(tuned)["adam-tuned"]
    assert [t["params"] for t in again["trials"]] == [t["params"] for t in first["trials"]]
    assert stored_ids(tmp_path / "results") == stored_ids(tuned)


def test_the_first_line_counts_a_tuned_entrys_runs_before_its_study_chose(tuned: Path, tmp_path: Path) -> None:
    """A tuned entry's runs are not known until its study ends: the estimate line still counts the
    most it may need (6 trials x 2 tuning seeds + 2 seeds, beside the untuned entry's 2) and, on a
    resumed folder, those stored (here every run but the tuned entry's two evaluation runs)."""
    results = tmp_path / "results"
    (results / "runs").mkdir(parents=True)
    for path in (tuned / "runs").glob("*.parquet"):
        if not path.name.startswith("digits-mlp__adam-tuned__seed"):
            (results / "runs" / path.name).write_bytes(path.read_bytes())
    trials = len(list((results / "runs").glob("*__tuning__*.parquet")))
    said: list[str] = []
    outcome = api.run(load_suite(write(tmp_path, TUNED_SUITE)), results, progress=False, say=lambda line, err: said.append(line))
    assert outcome.ok == 2 and trials >= 1  # random draws the study asked twice are run once
    first = f"tuned: 16 runs on cpu (12 of them tuning trials, at most), {2 + trials} already stored, {14 - trials} to run, "
    assert said[0].startswith(first), said


def test_resumed_tuning_runs_nothing_twice(tuned: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    for path in (tuned / "runs").glob("*.parquet"):
        (results / "runs").mkdir(exist_ok=True)
        (results / "runs" / path.name).write_bytes(path.read_bytes())
    assert run(TUNED_SUITE, tmp_path) == []  # all stored: the studies replay, nothing runs
    # a suite killed in its 4th trial: later trials' runs and the evaluation runs are missing
    trials = records(tuned)["adam-tuned"]["trials"]
    lost = {trials[3]["run_ids"][1], *(i for t in trials[4:] for i in t["run_ids"])} | set(
        records(tuned)["adam-tuned"]["evaluation_run_ids"]
    )
    lost -= {i for t in trials[:3] for i in t["run_ids"]} | {trials[3]["run_ids"][0]}
    for run_id in lost:
        ResultStore(results).path(run_id).unlink()
    summaries = run(TUNED_SUITE, tmp_path)
    assert sorted(s.run_id for s in summaries) == sorted(lost)  # each missing run once, nothing else
    assert stored_ids(results) == stored_ids(tuned)
    assert records(tmp_path / "results")["adam-tuned"]["best"] == records(tuned)["adam-tuned"]["best"]


@pytest.mark.parametrize("name", optimizers.names())
def test_declared_ranges_yield_valid_params(name: str) -> None:
    cls = optimizers.get(name)
    if optimizers._read()[name].origin == "built-in":
        assert cls.tuning_ranges, f"{name} declares no tuning ranges"
    for param in cls.tuning_ranges:
        assert param in cls.Params.model_fields
    distributions = optuna_study.distributions(cls.tuning_ranges)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for i in range(20):
        trial = study.ask(distributions)
        params = cls.Params(**trial.params)
        study.tell(trial, float(i))
        if i < 2:  # the optimizer accepts them too, on a weight vector or on a typed domain
            if "weights" in cls.search_kinds:
                cls.from_config(SearchDomain(torch.zeros(12)), np.random.default_rng(0), params)
            else:
                typed = TypedDomain(ranges(layers=integers(1, 5), act=choice("relu", "tanh")), {"layers": 2, "act": "relu"})
                cls.from_config(SearchDomain(typed.encode({"layers": 2, "act": "relu"}), typed=typed), np.random.default_rng(0), params)
    for param, r in cls.tuning_ranges.items():
        for value in r.extremes():
            cls.Params(**{param: value})


def test_an_optimizer_without_ranges_is_not_tuned() -> None:
    class NoRanges(RandomSearch):
        tuning_ranges = ranges()

    assert resolve_ranges(NoRanges, {}, True) == ({}, NOT_TUNED_EMPTY)


def test_suite_ranges_replace_the_declared_ones() -> None:
    tuned, why = resolve_ranges(optimizers.get("adam"), {}, {"lr": {"low": 1e-4, "high": 1e-2, "log": True}, "batch_size": False})
    assert why is None and set(tuned) == {"lr"} and (tuned["lr"].low, tuned["lr"].high, tuned["lr"].log) == (1e-4, 1e-2, True)


TUNING = {"trials": 2, "seeds": [7, 8]}

BAD: dict[str, tuple[dict[str, Any], str, list[str]]] = {
    "tuning seeds overlap": (
        with_changes(tuning={"trials": 2, "seeds": [1, 9]}),
        "tuning.seeds",
        ["disjoint from the evaluation seeds", "1 is in both"],
    ),
    "unknown param in tune": (
        with_changes(optimizers=[{"name": "de", "tune": {"G": {"low": 0.1, "high": 0.9}}}], tuning=TUNING),
        "optimizers[0].tune.G",
        ["unknown parameter of de", "allowed: popsize, F"],
    ),
    "trials 0": (with_changes(tuning={**TUNING, "trials": 0}), "tuning.trials", ["greater than or equal to 1"]),
    "unknown sampler": (with_changes(tuning={**TUNING, "sampler": "cmaes"}), "tuning.sampler", ["'random' or 'tpe'"]),
    "unknown field": (with_changes(tuning={**TUNING, "n_trials": 3}), "tuning", ["unknown field 'n_trials'", "allowed: trials"]),
    "range gives invalid params": (
        with_changes(optimizers=[{"name": "de", "tune": {"F": {"low": 0.5, "high": 3.0}}}], tuning=TUNING),
        "optimizers[0].tune.F",
        ["sampling 3.0 gives invalid parameters", "less than or equal to 2"],
    ),
    "range reversed": (
        with_changes(optimizers=[{"name": "de", "tune": {"F": {"low": 0.9, "high": 0.1}}}], tuning=TUNING),
        "optimizers[0].tune.F",
        ["must be below high"],
    ),
    "tune without tuning": (
        with_changes(optimizers=[{"name": "de", "tune": {"F": {"low": 0.1, "high": 0.9}}}]),
        "optimizers[0].tune",
        ["no tuning: block"],
    ),
    "budget and budget_fraction": (
        with_changes(tuning={**TUNING, "budget": {"evaluations": 10}, "budget_fraction": 0.5}),
        "tuning",
        ["budget or budget_fraction, not both"],
    ),
    "super_batch not a whole number": (
        with_changes(optimizers=[{"name": "de", "tune": {"super_batch": {"choices": [100, 0.5]}}}], tuning=TUNING),
        "optimizers[0].tune.super_batch",
        ["positive whole numbers"],
    ),
    "metric the problem lacks": (
        with_changes(problems=["sphere"], tuning={**TUNING, "metric": "val_accuracy"}),
        "tuning.metric",
        ["does not measure val_accuracy", "allowed: val_loss, train_loss"],
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_tuning_is_one_line(case: str, tmp_path: Path) -> None:
    content, field, words = BAD[case]
    path = write(tmp_path, content)
    with pytest.raises(ConfigError) as error:
        load_suite(path)
    check_line(str(error.value), path, field, words)


@pytest.mark.parametrize("case", ["tuning seeds overlap", "unknown param in tune"])
def test_bad_tuning_through_the_cli(case: str, tmp_path: Path) -> None:
    content, field, words = BAD[case]
    path = write(tmp_path, content)
    line = dfo_bench(tmp_path, "run", str(path), "--out", str(tmp_path / "results"))
    check_line(line, path, field, words)


def test_status_counts_tuning_runs(tuned: Path) -> None:
    counts = folder_status(tuned).counts
    assert counts["adam-tuned (tuning)"]["done"] == len(load_runs(tuned).tuning.drop_duplicates("run_id")) > 0
    assert counts["adam-tuned"]["done"] == 2 and counts["adam-default"]["done"] == 2
    assert sum(c["pending"] for c in counts.values()) == 0


def test_tpe_study_asks_the_same_trials_from_the_same_suite(tmp_path: Path) -> None:
    suite = {**TUNED_SUITE, "tuning": {**TUNED_SUITE["tuning"], "sampler": "tpe", "trials": 14}}
    plan = load_suite(write(tmp_path, suite)).studies[0]

    def asked() -> list[dict[str, Any]]:
        study = TuningStudy(plan)
        for _ in range(plan.trials):  # past TPE's 10 random start-up trials
            trial = study.ask()
            study.study.tell(trial.trial, -abs(math.log10(trial.record.params["lr"]) + 2))
        return [r.params for r in study.records]

    first = asked()
    assert first == asked() and len({json.dumps(p, sort_keys=True) for p in first}) == plan.trials


def test_budget_fraction_scales_each_entrys_own_budget(tmp_path: Path) -> None:
    suite = TUNED_SUITE | dict(
        optimizers=[{"name": "adam", "budget": {"evaluations": 300}}, "random-search"],
        budget={"evaluations": 1000, "samples": 2_000_001},
        tuning={"trials": 2, "seeds": [10], "budget_fraction": 0.1},
    )
    plans = {plan.optimizer.name: plan for plan in load_suite(write(tmp_path, suite)).studies}
    assert plans["adam"].tuning_budget.evaluations == 30 and plans["adam"].evaluation_budget.evaluations == 300
    assert plans["random-search"].tuning_budget.evaluations == 100
    assert plans["random-search"].tuning_budget.samples == 200_001  # rounded up


def test_super_batch_is_tunable_and_reaches_the_runs(tmp_path: Path) -> None:
    suite = TUNED_SUITE | dict(
        optimizers=[{"name": "hbde", "params": {"popsize": 8}, "tune": {"super_batch": {"choices": [100, 300]}}}],
        tuning={"trials": 2, "seeds": [10], "sampler": "random"},
    )
    (plan,) = load_suite(write(tmp_path, suite)).studies
    assert set(plan.ranges) >= {"super_batch", "F", "CR"}
    for trial in range(4):
        sampled = {"super_batch": [100, 300][trial % 2], "F": 0.5}
        (spec,) = plan.trial_specs(trial, sampled)
        assert spec.optimizer.super_batch == sampled["super_batch"] and spec.optimizer.params.F == 0.5


def test_the_given_configuration_is_trial_zero(tmp_path: Path) -> None:
    given = {"name": "adam", "params": {"lr": 0.003, "batch_size": 32}}
    suite = TUNED_SUITE | dict(optimizers=[given], tuning={"trials": 4, "sampler": "random", "seeds": [10]})
    (plan,) = load_suite(write(tmp_path, suite)).studies
    assert plan.include_given and plan.given() == {"lr": 0.003, "batch_size": 32}
    study = TuningStudy(plan)
    asked = [study.ask().record.params for _ in range(plan.trials)]
    assert asked[0] == {"lr": 0.003, "batch_size": 32}
    without = suite | {"tuning": suite["tuning"] | {"include_given": False}}
    (tmp_path / "without").mkdir()
    (other,) = load_suite(write(tmp_path / "without", without)).studies
    plain = TuningStudy(other)
    # the given trial draws nothing from the sampler: the random trials after it are the same ones
    assert asked[1:] == [plain.ask().record.params for _ in range(plan.trials - 1)]


def test_a_given_value_outside_the_ranges_is_no_trial(tuned: Path, tmp_path: Path) -> None:
    (plan,) = [p for p in load_suite(write(tmp_path, TUNED_SUITE)).studies if p.ranges]
    assert plan.given() is None  # lr = 100 lies outside Adam's declared lr range
    assert records(tuned)["adam-tuned"]["given"] is None
    (tmp_path / "unset").mkdir()
    unset = TUNED_SUITE | dict(optimizers=[{"name": "hbde", "tune": {"super_batch": {"choices": [100, 300]}}}])
    (hbde,) = load_suite(write(tmp_path / "unset", unset)).studies
    assert hbde.given() is None  # no super_batch given: the problem's own batch is not one of the choices


def test_report_keeps_only_the_current_choice_of_a_retuned_entry(tuned: Path, tmp_path: Path) -> None:
    best = records(tuned)["adam-tuned"]["best"]["number"]
    assert best >= 1  # a study cut short before its best trial chooses another configuration
    results = tmp_path / "results"
    (results / "runs").mkdir(parents=True)
    for path in (tuned / "runs").glob("*.parquet"):
        (results / "runs" / path.name).write_bytes(path.read_bytes())
    shorter = TUNED_SUITE | {"tuning": TUNED_SUITE["tuning"] | {"trials": best}}
    earlier = {s.run_id for s in run(shorter, tmp_path) if "__tuning__" not in s.run_id}
    assert len(earlier) == 2  # the earlier choice's evaluation runs, stored under the same label
    assert run(TUNED_SUITE, tmp_path) == []  # re-tuned with all trials: the fixture's choice, already stored
    loaded = load_runs(results)
    shown = set(loaded.runs.loc[loaded.runs["optimizer_label"] == SHOWN, "run_id"])
    assert shown == set(records(tuned)["adam-tuned"]["evaluation_run_ids"]) and not shown & earlier
    assert any("2 stored evaluation run(s) of an earlier tuning choice" in note for note in loaded.notes)


def test_a_tuned_entry_run_seed_by_seed_keeps_every_seed(tuned: Path, tmp_path: Path) -> None:
    """A suite run in parts, a copy of it with other seeds (or the suite given more seeds later),
    into the same folder: the study replays and its choice runs on the new seed alone; the plan and
    the first line count only this suite's seeds as stored; and the report keeps the choice's runs
    of every seed, though the study record now lists those of the last part."""
    results = tmp_path / "results"
    for folder in ("runs", "tuning"):
        (results / folder).mkdir(parents=True)
        for path in (tuned / folder).iterdir():
            (results / folder / path.name).write_bytes(path.read_bytes())
    trials = len(list((results / "runs").glob("*__tuning__*.parquet")))
    later = load_suite(write(tmp_path, TUNED_SUITE | {"seeds": [2]}))
    plan = plan_suite(later, ResultStore(results), later.config.executor, effort=QUICK)
    assert {(g.optimizer, g.phase): g.pending for g in plan.groups if g.phase == "evaluation"} == {
        ("adam-tuned", "evaluation"): 1,
        ("adam-default", "evaluation"): 1,
    }
    said: list[str] = []
    outcome = api.run(later, results, progress=False, say=lambda line, err: said.append(line))
    assert sorted(s.run_id.split("__")[1:3] for s in outcome.summaries) == [["adam-default", "seed2"], ["adam-tuned", "seed2"]]
    first = f"tuned: 14 runs on cpu (12 of them tuning trials, at most), {trials} already stored, {14 - trials} to run, "
    assert said[0].startswith(first), said
    loaded = load_runs(results)
    assert sorted(loaded.runs.loc[loaded.runs["optimizer_label"] == SHOWN, "seed"].unique()) == [0, 1, 2]
    assert not any("earlier tuning choice" in note for note in loaded.notes), loaded.notes


RECORDS = Path(__file__).parent / "data" / "study_records"
"""Study records written by the code before the redesign, of ``GOLDEN_SUITE`` with three trials
told by hand (see ``test_store``)."""
GOLDEN_SUITE: dict[str, Any] = TUNED_SUITE | {
    "name": "golden",
    "optimizers": [
        {"name": "adam", "label": "adam-tuned", "params": {"lr": 0.003, "batch_size": 32}},
        {"name": "adam", "label": "adam-fixed", "tune": False},
    ],
    "tuning": {"trials": 3, "sampler": "random", "seeds": [10, 11], "metric": "val_accuracy"},
}


def test_tuning_rounds_write_records_as_before_the_redesign(tmp_path: Path) -> None:
    tuned, fixed = load_suite(write(tmp_path, GOLDEN_SUITE)).studies
    # The records kept were written for the label 'adam/tuned', which suites may no longer give (a
    # label is part of file names): the plan gets it back as the old code had it.
    tuned = replace(tuned, optimizer=tuned.optimizer.model_copy(update={"label": "adam/tuned"}))
    kept = json.loads((RECORDS / "digits-mlp__adam_tuned__9dbec5ad.json").read_text())
    study = TuningStudy(tuned)
    study.records = [TrialRecord(t["number"], t["params"], t["run_ids"], t["value"], t["state"]) for t in kept["trials"]]
    store = ResultStore(tmp_path / "results")
    written = [
        store.write_study(study_record(tuned, study, tuned.evaluation_specs(kept["best"]["params"]))),
        store.write_study(study_record(fixed, None, [])),
    ]
    assert {p.name: p.read_text() for p in written} == {p.name: p.read_text() for p in RECORDS.glob("*.json")}
