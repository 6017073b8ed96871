"""The results folder through ``ResultStore``: typed summaries of stored runs, running markers,
suite copies and study records, on the on-disk format folders written before the store owned it
already have.

``data/study_records/`` holds two study records written by the code before the redesign (a tuned
entry whose label has a slash, and a ``tune: false`` entry): the store must read them and write
them back byte for byte under the same names.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dfo_bench.atomic import process_exists, write_atomically
from dfo_bench.record import RunResult
from dfo_bench.spec import RunSpec, TuningTag
from dfo_bench.store import EVALUATION, TUNING, Claim, ResultStore, StudyRecord, to_frame
from tests.report_data import specs, trace, write_run

RECORDS = Path(__file__).parent / "data" / "study_records"
TUNED_RECORD = RECORDS / "digits-mlp__adam_tuned__9dbec5ad.json"


def tuning_run(spec: RunSpec, trial: int = 0) -> RunSpec:
    return RunSpec(**{**dict(spec), "tuning": TuningTag(trial=trial, metric="val_accuracy")})


def test_stored_runs_are_typed_summaries_in_run_id_order(tmp_path: Path) -> None:
    evaluation, other = specs(tmp_path, ["p"], ["a", "b"], [3])
    tuning = tuning_run(evaluation)
    store = ResultStore(tmp_path / "results")
    write_run(store.root, evaluation, trace(0.9))
    write_run(store.root, other, trace(0.5), error="RuntimeError: diverged")
    write_run(store.root, tuning, trace(0.7))
    runs = {run.run_id: run for run in store.stored_runs()}
    assert list(runs) == sorted(runs) and set(runs) == {evaluation.run_id, other.run_id, tuning.run_id}
    first = runs[evaluation.run_id]
    assert (first.problem_label, first.optimizer_label, first.seed, first.phase, first.status) == ("p", "a", 3, EVALUATION, "ok")
    assert (runs[other.run_id].status, runs[tuning.run_id].phase) == ("failed", TUNING)
    assert store.status(other.run_id) == "failed" and store.status("absent") is None


def test_a_run_file_from_before_tuning_is_an_evaluation_run(tmp_path: Path) -> None:
    (spec,) = specs(tmp_path, ["p"], ["a"], [0])
    store = ResultStore(tmp_path / "results")
    result = RunResult(spec=spec, run_seed=0, started_at="2026-01-01T00:00:00+00:00", device="cpu", trace=trace(0.9))
    frame = to_frame(result).drop(columns=["phase", "tuning_trial", "tuning_metric"])
    write_atomically(store.path(spec.run_id), lambda tmp: frame.to_parquet(tmp, index=False))
    (run,) = store.stored_runs()
    assert (run.run_id, run.phase, run.status) == (spec.run_id, EVALUATION, "ok")


def test_final_metric_of_ok_runs_only(tmp_path: Path) -> None:
    ok, failed = specs(tmp_path, ["p"], ["a", "b"], [0])
    store = ResultStore(tmp_path / "results")
    write_run(store.root, ok, trace(0.9))
    write_run(store.root, failed, trace(0.5), error="RuntimeError: diverged")
    assert store.final_metric(ok.run_id, "val_accuracy") == pytest.approx(0.9)
    assert store.final_metric(failed.run_id, "val_accuracy") is None
    assert store.final_metric(ok.run_id, "val_hypervolume") is None  # not a column of this run
    assert store.final_metric("absent", "val_accuracy") is None


def write_marker(store: ResultStore, run_id: str, host: str, pid: int) -> None:
    """A marker as a worker (of this version or an earlier one) leaves it."""
    marker = {"run_id": run_id, "problem_label": "p", "optimizer_label": "a", "host": host, "pid": pid, "started_at": "x"}
    path = store.root / "running" / f"{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(marker))


def test_markers_of_dead_workers_on_this_host_are_removed(tmp_path: Path) -> None:
    (spec,) = specs(tmp_path, ["p"], ["a"], [0])
    store = ResultStore(tmp_path / "results")
    claim = store.claim(spec, owner="this suite")
    assert isinstance(claim, Claim)
    dead = 999_999_999  # above any pid_max: no such process
    write_marker(store, "dead-here", socket.gethostname(), dead)
    write_marker(store, "dead-elsewhere", "another-host", dead)
    (store.root / "running" / "torn.json").write_text('{"run_id": ')
    assert {m.run_id for m in store.running_markers()} == {spec.run_id, "dead-here", "dead-elsewhere"}
    assert [(d.path.name, d.reason.split(" (")[0]) for d in store.damaged] == [("torn.json", "not a running marker")]
    store.remove_stale_temporaries()
    markers = {m.run_id: m for m in store.running_markers()}
    assert set(markers) == {spec.run_id, "dead-elsewhere"}  # another host's process cannot be checked from here
    mine = markers[spec.run_id]
    assert (mine.optimizer_label, mine.host, mine.pid, mine.phase) == ("a", socket.gethostname(), os.getpid(), EVALUATION)
    with claim:  # held, then released
        pass
    assert [m.run_id for m in store.running_markers()] == ["dead-elsewhere"]


def test_a_worker_that_ended_but_was_not_reaped_counts_as_gone() -> None:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])  # not waited for: a zombie once it ends
    try:
        deadline = time.monotonic() + 30
        while process_exists(ended.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not process_exists(ended.pid)
        assert Path(f"/proc/{ended.pid}/stat").exists()  # still in the process table, unreaped
    finally:
        ended.wait()
    assert process_exists(os.getpid())


def write_owned_marker(store: ResultStore, run_id: str, pid: int, owner: str) -> None:
    write_marker(store, run_id, socket.gethostname(), pid)
    path = store.root / "running" / f"{run_id}.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "owner": owner}))


def test_a_stopped_suite_waits_for_its_workers_before_removing_their_markers(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results")
    dying = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    stuck = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    reaper = threading.Thread(target=dying.wait)  # a child that ended is gone once waited for
    reaper.start()
    try:
        write_owned_marker(store, "dying", dying.pid, "this suite")
        write_owned_marker(store, "another-suites", stuck.pid, "another suite")
        store.remove_stale_temporaries()
        assert len(store.running_markers()) == 2  # their processes still exist
        began = time.monotonic()
        store.await_workers("this suite", seconds=10.0)
        assert time.monotonic() - began < 5.0  # another suite's worker is not waited for
        store.remove_stale_temporaries()
        assert [m.run_id for m in store.running_markers()] == ["another-suites"]
        write_owned_marker(store, "stuck", stuck.pid, "this suite")
        began = time.monotonic()
        store.await_workers("this suite", seconds=1.0)
        assert time.monotonic() - began >= 1.0  # waited for as long as allowed, then left
        store.remove_stale_temporaries()
        assert sorted(m.run_id for m in store.running_markers()) == ["another-suites", "stuck"]
    finally:
        stuck.kill()
        stuck.wait()
        reaper.join()


def test_a_tuning_runs_marker_says_its_phase(tmp_path: Path) -> None:
    (spec,) = specs(tmp_path, ["p"], ["a"], [0])
    store = ResultStore(tmp_path / "results")
    store.claim(tuning_run(spec), owner="this suite")
    assert [m.phase for m in store.running_markers()] == [TUNING]


def test_suite_copies_are_kept_by_name(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.write_suite_copy("b", "name: b\n", {}, [])
    store.write_suite_copy("a", "name: a\n", {}, [])
    store.write_suite_copy("a", "name: a\nseeds: [1]\n", {}, [])
    assert [p.name for p in store.suite_copies()] == ["a.yaml", "b.yaml"]
    assert store.suite_copies()[0].read_text() == "name: a\nseeds: [1]\n"


@pytest.mark.parametrize("path", sorted(RECORDS.glob("*.json")), ids=lambda p: p.stem)
def test_study_records_from_before_the_redesign_are_written_back_byte_for_byte(path: Path, tmp_path: Path) -> None:
    record = StudyRecord.model_validate(json.loads(path.read_text()))
    written = ResultStore(tmp_path).write_study(record)
    assert written.name == path.name and written.read_text() == path.read_text()


def test_study_record_round_trip(tmp_path: Path) -> None:
    old = ResultStore(tmp_path / "old")
    (old.root / "tuning").mkdir(parents=True)
    for path in RECORDS.glob("*.json"):
        (old.root / "tuning" / path.name).write_bytes(path.read_bytes())
    record = old.study("digits-mlp", "adam/tuned")  # the slash is no folder in the file name
    assert record is not None and record.tuned and record.best is not None and record.best.number == 2
    assert [t.state for t in record.trials] == ["complete", "failed", "complete"] and record.trials[1].value is None
    assert record.given == {"batch_size": 32, "lr": 0.003} and len(record.evaluation_run_ids) == 2
    assert [r.status for r in old.studies()] == ["not tuned (tune: false)", "tuned"]
    new = ResultStore(tmp_path / "new")
    new.write_study(record)
    assert new.study("digits-mlp", "adam/tuned") == record and new.study("digits-mlp", "adam-fixed") is None


def test_unreadable_and_older_study_records(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    (store.root / "tuning").mkdir()
    (store.root / "tuning" / "torn.json").write_text('{"suite": ')
    (store.root / "tuning" / "other.json").write_text('{"status": "tuned"}')
    older = json.loads(TUNED_RECORD.read_text())
    for key in ("include_given", "given", "space_text"):  # what records lacked before trial 0 was the given configuration
        del older[key]
    (store.root / "tuning" / TUNED_RECORD.name).write_text(json.dumps(older))
    (record,) = store.studies()
    assert record.given is None and not record.include_given and record.space_text == ""
    assert record == store.study("digits-mlp", "adam/tuned")
