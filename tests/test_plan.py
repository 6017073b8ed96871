"""Knowing the cost before running: ``dfo-bench run --plan``, the estimate in ``run``'s first line,
the warning before a suite of hours on a CPU, and the estimate kept for the report."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import torch

from dfo_bench.executors import SequentialExecutor, run_suite
from dfo_bench.executors.plan import QUICK, plan_suite, render
from dfo_bench.executors.progress import Progress
from dfo_bench.pretrain import cache_path
from dfo_bench.report.estimates import estimate_table
from dfo_bench.report.load import load_runs
from dfo_bench.store import ResultStore
from dfo_bench.suite import load_suite
from tests.conftest import CLI, cli_env

TINY = {
    "name": "tiny",
    "problems": ["digits-mlp"],
    "optimizers": ["random-search", {"name": "de", "params": {"F": 0.8}}],
    "seeds": [0, 1, 2],
    "budget": {"evaluations": 300},
    "device": "cpu",
    "executor": {"kind": "process", "workers": 2},
}


def dfo_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=cli_env())


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def test_plan_lists_each_group_and_a_total_and_writes_nothing(write_suite, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shown = dfo_bench("run", str(write_suite(TINY)), "--out", str(out), "--plan")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("tiny: plan on cpu, process executor: 0 stored, 0 failed, 6 to run; calibrated in ")
    rows = [line.split() for line in lines if line.startswith("  digits-mlp")]
    assert [row[1] for row in rows] == ["random-search", "de[F=0.8]"]
    assert [row[2:5] for row in rows] == [["0", "0", "3"]] * 2
    assert re.fullmatch(r"tiny: total: 6 runs, \d+ s of work, about \d+ s on [12] workers? \(estimate\)", lines[len(rows) + 2])
    assert not out.exists()


def test_plan_of_a_folder_counts_what_is_stored_and_changes_nothing(write_suite, tmp_path: Path) -> None:
    suite, out = write_suite(TINY), tmp_path / "out"
    run_suite(load_suite(suite), out, SequentialExecutor(), progress=False)
    ResultStore(out).path(load_suite(suite).runs[0].run_id).unlink()  # random-search, seed 0
    before = snapshot(out)
    shown = dfo_bench("run", str(suite), "--out", str(out), "--plan")
    assert shown.returncode == 0, shown.stderr
    rows = {line.split()[1]: line.split()[2:5] for line in shown.stdout.splitlines() if line.startswith("  digits-mlp")}
    assert rows == {"random-search": ["2", "0", "1"], "de[F=0.8]": ["3", "0", "0"]}
    assert snapshot(out) == before


def test_run_keeps_its_estimate_for_the_report(write_suite, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ran = dfo_bench("run", str(write_suite(TINY)), "--out", str(out), "--sequential", "--quiet")
    assert ran.returncode == 0, ran.stderr
    assert re.match(r"tiny: 6 runs on cpu, 0 already stored, 6 to run, about \d+ s on 1 worker \(estimate\) -> ", ran.stdout)
    (out / "suites" / "damaged.plan.json").write_text("{not json")
    (plan,) = ResultStore(out).plans()
    assert plan.suite == "tiny" and plan.parallelism == 1 and plan.wall_seconds and plan.took_seconds
    assert {(g.optimizer_label, g.runs) for g in plan.groups} == {("random-search", 3), ("de[F=0.8]", 3)}
    found = estimate_table([plan], load_runs(out).runs)
    assert found is not None
    table, note = found
    runs = load_runs(out).runs.drop_duplicates("run_id")
    for row in table.rows:
        group = next(g for g in plan.groups if g.optimizer_label == row[1].text)
        assert row[3].sort == group.search_seconds
        assert row[4].sort == pytest.approx(runs[runs["optimizer_label"] == row[1].text]["final_seconds"].mean())
    assert "tiny: " in note and " s taken" in note


def test_a_seconds_budget_is_estimated_as_budget_times_runs_over_workers(write_suite, tmp_path: Path) -> None:
    suite = load_suite(write_suite({**TINY, "optimizers": ["random-search"], "seeds": [0, 1, 2, 3], "budget": {"seconds": 20}}))
    plan = plan_suite(suite, ResultStore(tmp_path / "out"), suite.config.executor, effort=QUICK)
    (group,) = plan.groups
    assert group.search_seconds == pytest.approx(20, abs=0.5)
    expected = 20 * 4 / plan.parallelism
    assert plan.parallelism == min(2, len(os.sched_getaffinity(0)))
    assert expected <= plan.wall - plan.startup <= expected * 1.05 + 1
    assert not (tmp_path / "out").exists()


def test_tuning_runs_and_pre_training_are_planned_and_a_cached_start_is_not_counted(write_suite, tmp_path: Path) -> None:
    problem = {"name": "digits-mlp", "init": {"pretrain": {"optimizer": "adam", "epochs": 1}}}
    tuned = {
        **TINY,
        "problems": [problem],
        "optimizers": ["random-search", {"name": "de", "tune": False}],
        "tuning": {"trials": 4, "sampler": "random", "seeds": [10, 11]},
    }
    suite = load_suite(write_suite(tuned))
    store = ResultStore(tmp_path / "out")
    spec = suite.runs[0]  # de, not tuned: seeds 0-2
    cached = cache_path(store.cache_dir, spec.problem, 0, torch.device("cpu"))
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")  # seed 0's pre-trained weights, as far as the plan looks
    plan = plan_suite(suite, store, suite.config.executor, effort=QUICK)
    pending = {(g.optimizer, g.phase): g.pending for g in plan.groups}
    assert pending == {("de", "evaluation"): 3, ("random-search", "tuning"): 4 * 2, ("random-search", "evaluation"): 3}
    (pretraining,) = plan.pretraining
    assert pretraining.seeds == 4 and isinstance(pretraining.seconds, float) and pretraining.seconds > 0  # seeds 1, 2, 10, 11
    assert plan.rounds == 8 and plan.complete
    # never faster than all the work spread perfectly; never slower than all of it in one process
    assert plan.work / plan.parallelism <= plan.wall - plan.startup + 1e-9
    assert plan.wall - plan.startup <= plan.work + 1e-9


def test_the_time_left_weighs_each_run_by_the_plans_estimate_of_it(
    write_suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a suite's tuning trials (a tenth of the budget each here) the progress line's time
    left counts the evaluation runs at their own length: ``run_suite`` weighs every run it hands
    out by the plan's estimate for its group (tuning trials and evaluation runs alike, no run
    falling back to a guess), the work counted in advance is all finished or discounted by the
    end, and the costs go to the line as the plan's seconds (a time left before the first run
    ends), on a fresh folder and on one where some runs are stored."""
    tuned = {
        **TINY,
        "optimizers": [{"name": "random-search", "label": "rs"}, {"name": "de", "tune": False}],
        "budget": {"evaluations": 2000},
        "tuning": {"trials": 3, "sampler": "random", "seeds": [10], "budget_fraction": 0.1},
    }
    suite, out = load_suite(write_suite(tuned)), tmp_path / "out"
    calls: list[tuple[str, int, float]] = []
    in_seconds: list[bool] = []
    init, advance, discount = Progress.__init__, Progress.advance, Progress.discount

    def counted_init(
        self: Progress, total: int, *args: object, work: float | None = None, seconds: bool = False, **kwargs: object
    ) -> None:
        calls.append(("work", total, work if work is not None else math.nan))
        in_seconds.append(seconds)
        init(self, total, *args, work=work, seconds=seconds, **kwargs)  # type: ignore[arg-type]

    def counted_advance(self: Progress, status: str, seconds: float | None = None, cost: float = 1.0) -> None:
        calls.append(("advance", 1, cost))
        advance(self, status, seconds, cost)

    def counted_discount(self: Progress, runs: int, cost: float | None = None) -> None:
        calls.append(("discount", runs, runs if cost is None else cost))
        discount(self, runs, cost)

    monkeypatch.setattr(Progress, "__init__", counted_init)
    monkeypatch.setattr(Progress, "advance", counted_advance)
    monkeypatch.setattr(Progress, "discount", counted_discount)
    for stored in (False, True):
        store = ResultStore(out)
        record = store.study("digits-mlp", "rs")
        if stored and record is not None:  # one evaluation run of the tuned entry and one trial's run to run again
            for run_id in (record.evaluation_run_ids[0], record.trials[0].run_ids[0]):
                store.path(run_id).unlink()
        plan = plan_suite(suite, store, suite.config.executor, effort=QUICK)
        calls.clear()
        run_suite(suite, out, SequentialExecutor(), progress=False, plan=plan)
        (_, total, work), *ended = calls
        costs = [cost for kind, _, cost in ended if kind == "advance"]
        every_group = set(plan.estimates.values())  # the first time all three run: each weighs some
        assert set(costs) <= every_group if stored else set(costs) == every_group, (costs, plan.estimates)
        assert total == sum(runs for _, runs, _ in ended)
        assert work == pytest.approx(sum(cost for _, _, cost in ended))
        assert in_seconds[-1], "the costs are the plan's seconds: a time left before the first run ends"
    assert plan.estimates[("digits-mlp", "rs", "tuning")] < plan.estimates[("digits-mlp", "rs", "evaluation")]


def test_slurm_plan_suggests_a_time_limit_per_run(write_suite, tmp_path: Path) -> None:
    suite = load_suite(write_suite({**TINY, "executor": {"kind": "slurm", "time_min": 60}}))
    plan = plan_suite(suite, ResultStore(tmp_path / "out"), suite.config.executor, effort=QUICK, imports=4.0)
    assert plan.parallelism == 6 and plan.start >= 4.0
    assert plan.time_min() == math.ceil(1.5 * (plan.longest + plan.start) / 60)
    assert f"slurm: time_min {plan.time_min()} per run " in "\n".join(render(plan))
    assert plan.wall >= plan.start + plan.longest


HUGE = {**TINY, "optimizers": ["random-search"], "seeds": [0], "budget": {"samples": 10**13}, "executor": "sequential"}
"""Weeks of random search on the digits (10^13 samples, ~3·10^8 generations): never run to the end."""


def test_plan_warns_of_a_suite_of_hours_on_a_cpu(write_suite) -> None:
    shown = dfo_bench("run", str(write_suite(HUGE)), "--plan")
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^warning: estimated [\d.]+ days on this CPU; see --plan; a GPU or --executor slurm$", shown.stdout, re.M)


def test_run_warns_before_starting_a_suite_of_hours_on_a_cpu(write_suite, tmp_path: Path) -> None:
    command = [*CLI, "run", str(write_suite(HUGE)), "--out", str(tmp_path / "out"), "--quiet"]
    proc = subprocess.Popen(
        command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        warned = proc.stderr.readline()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert re.match(r"tiny: 1 runs on cpu, 0 already stored, 1 to run, about [\d.]+ days on 1 worker \(estimate\) -> ", first)
    assert warned.startswith("warning: estimated ") and warned.rstrip().endswith(
        "on this CPU; see --plan; a GPU or --executor slurm"
    )


@pytest.mark.parametrize("case", ["missing suite", "out is a file"])
def test_bad_input_to_plan_is_one_line_and_exit_2(case: str, write_suite, tmp_path: Path) -> None:
    suite = tmp_path / "missing.yaml" if case == "missing suite" else write_suite(TINY)
    blocker = tmp_path / "file"
    blocker.write_text("")
    shown = dfo_bench("run", str(suite), "--out", str(blocker), "--plan")
    assert shown.returncode == 2
    assert len(shown.stderr.splitlines()) == 1 and shown.stderr.startswith("error: ")
    assert shown.stdout == ""
