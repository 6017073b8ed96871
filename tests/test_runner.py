"""The runner and the results folder: resume, interruption, executors, checkpoints."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from dfo_bench.executors import ProcessExecutor, SequentialExecutor, run_suite
from dfo_bench.loop import CheckpointSchedule
from dfo_bench.optimizers.random_search import RandomSearch
from dfo_bench.store import ResultStore
from dfo_bench.suite import load_suite
from dfo_bench.testing import stored_outcomes
from tests.conftest import CLI, cli_env

TINY = {
    "name": "tiny",
    "problems": ["digits-mlp"],
    "optimizers": ["random-search", {"name": "de", "params": {"popsize": 8}}],
    "seeds": [0, 1],
    "budget": {"evaluations": 300},
    "checkpoints": 20,
}


def test_deleted_run_is_the_only_one_run_again(write_suite, tmp_path: Path) -> None:
    suite = load_suite(write_suite(TINY))
    out = tmp_path / "results"
    assert len(run_suite(suite, out, SequentialExecutor(), progress=False)) == 4
    before = stored_outcomes(out)
    files = sorted((out / "runs").glob("*.parquet"))
    mtimes = {f: f.stat().st_mtime_ns for f in files}
    files[1].unlink()
    again = run_suite(suite, out, SequentialExecutor(), progress=False)
    assert [s.run_id + ".parquet" for s in again] == [files[1].name]
    assert all(f.stat().st_mtime_ns == mtimes[f] for f in files if f != files[1])
    pd.testing.assert_frame_equal(stored_outcomes(out), before)
    assert run_suite(suite, out, SequentialExecutor(), progress=False) == []


def test_process_pool_gives_the_same_results_as_sequential(write_suite, tmp_path: Path) -> None:
    suite = load_suite(write_suite(TINY))
    run_suite(suite, tmp_path / "seq", SequentialExecutor(), progress=False)
    run_suite(suite, tmp_path / "pool", ProcessExecutor(2), progress=False)
    pd.testing.assert_frame_equal(stored_outcomes(tmp_path / "seq"), stored_outcomes(tmp_path / "pool"))


@pytest.mark.parametrize("mode", [["--sequential"], ["--workers", "2"]])
def test_killed_suite_resumes_without_losing_or_duplicating_runs(mode: list[str], write_suite, tmp_path: Path) -> None:
    suite_file = write_suite({**TINY, "seeds": list(range(5)), "budget": {"evaluations": 3000}})
    out = tmp_path / "results"
    runs = out / "runs"
    command = [*CLI, "run", str(suite_file), "--out", str(out), "--quiet", *mode]
    proc = subprocess.Popen(command, env=cli_env(), start_new_session=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(runs.glob("*.parquet")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {f.name for f in runs.glob("*.parquet")}
    assert 0 < len(done_before) < 10, "the suite was not interrupted mid-way"

    resumed = subprocess.run(command, env=cli_env(), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(done_before)} already stored, {10 - len(done_before)} to run" in resumed.stdout
    results = ResultStore(out).load()
    assert results["run_id"].nunique() == 10
    assert (results.groupby("run_id")["checkpoint"].apply(lambda c: list(c) == list(range(len(c))))).all()
    assert sorted(p.name for p in runs.iterdir()) == sorted(f"{s.run_id}.parquet" for s in load_suite(suite_file).runs)


def test_stale_temporary_files_of_a_killed_writer_are_removed(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    runs = store.path("x").parent
    runs.mkdir(parents=True)
    stale = runs / ".x.parquet.999999999.tmp"  # above any pid_max: no such process
    live = runs / f".y.parquet.{os.getpid()}.tmp"
    stale.write_bytes(b"half")
    live.write_bytes(b"being written")
    store.remove_stale_temporaries()
    assert not stale.exists() and live.exists()


def test_checkpoints_are_log_spaced_and_at_least_as_many_as_asked() -> None:
    schedule = CheckpointSchedule(25)
    fractions = np.arange(1, 1001) / 1000
    due = [f for f in fractions if schedule.due(f)]
    assert len(due) >= 25 and due[-1] == 1.0
    gaps = np.diff(np.log(due[-15:]))
    assert gaps.max() < 3 * gaps.min(), "late checkpoints are spread evenly on a log scale"


def test_coarse_steps_still_record_every_checkpoint() -> None:
    schedule = CheckpointSchedule(20)
    due = [f for f in np.linspace(0.02, 1.0, 50) if schedule.due(f)]
    assert len(due) >= 20


def test_trace_records_what_the_issue_asks(write_suite, tmp_path: Path) -> None:
    one_run = {**TINY, "optimizers": ["random-search"], "seeds": [0], "budget": {"evaluations": 2000}}
    suite = load_suite(write_suite(one_run))
    run_suite(suite, tmp_path, SequentialExecutor(), progress=False)
    frame = ResultStore(tmp_path).load()
    for column in ["evaluations", "samples", "seconds", "best_seen_loss", "train_loss", "val_accuracy", "test_f1"]:
        assert column in frame
    assert len(frame) >= 21 and frame["evaluations"].is_monotonic_increasing
    row = frame.iloc[-1]
    assert row["final_evaluations"] == 2000 and row["final_samples"] == 2000 * 1077
    assert row["status"] == "ok" and row["dim"] == 64 * 32 + 32 + 32 * 10 + 10
    for column in ["problem_params", "optimizer_params", "config_hash", "versions", "device", "run_seed"]:
        assert pd.notna(row[column])
    assert (tmp_path / "suites" / "tiny.yaml").exists()


def test_a_warning_raised_every_generation_is_shown_once_a_run(
    write_suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder
) -> None:
    told = []

    def tell_and_warn(self: RandomSearch, X: torch.Tensor, losses: torch.Tensor) -> None:
        told.append(len(losses))  # as pycma does: one place, a check every generation, its values in the text
        text = f"step {len(told)} is larger than 55" if len(told) > 1 else "another warning from the same place"
        warnings.warn(text, UserWarning, stacklevel=1)

    monkeypatch.setattr(RandomSearch, "_tell", tell_and_warn)
    suite = load_suite(write_suite({**TINY, "optimizers": ["random-search"], "seeds": [0]}))
    (summary,) = run_suite(suite, tmp_path / "results", SequentialExecutor(), progress=False)
    assert summary.status == "ok" and len(told) > 5
    shown = [str(w.message) for w in recwarn if w.category is UserWarning]
    assert shown == [
        "another warning from the same place",
        "step 2 is larger than 55",
        f"raised {len(told) - 1} times in run {summary.run_id}, the first shown when raised: step 2 is larger than 55",
    ]
