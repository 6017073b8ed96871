"""The index of a results folder (``store/index.py``) against its run files, the source of truth.

Every reader's answer is the same with the index, without it (``ResultStore(index=False)`` reads
every run file) and after it is deleted; a run that lands after the index was built is read, a
deleted or replaced run file is noticed, a damaged index file is rebuilt with a warning, and two
processes writing runs (and reading, so maintaining the index) at once leave an index that agrees
with the files.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from dfo_bench.report import build_report
from dfo_bench.spec import RunSpec
from dfo_bench.status import folder_status, render
from dfo_bench.store import ResultStore, index
from dfo_bench.store.index import RunIndex, decoded, signature
from tests.report_data import specs, trace, write_run


def _final(spec: RunSpec) -> float:
    return 0.5 + 0.1 * len(spec.optimizer.label) + 0.01 * spec.seed


def _folder(tmp_path: Path, seeds: range = range(4)) -> tuple[Path, list[RunSpec]]:
    """Two problems × two optimizers × ``seeds``; a failed run; traces of different lengths."""
    runs = specs(tmp_path, ["p", "q"], ["a", "bb"], seeds)
    root = tmp_path / "results"
    for spec in runs:
        points = 21 if spec.seed % 2 else 11
        write_run(
            root,
            spec,
            trace(_final(spec), points),
            error="RuntimeError: diverged" if spec.seed == 1 and spec.optimizer.label == "a" else None,
        )
    return root, runs


def _agrees(root: Path) -> None:
    """The index's answers are the run files' (rows, dtypes, order; summaries; damaged files)."""
    indexed, direct = ResultStore(root), ResultStore(root, index=False)
    pd.testing.assert_frame_equal(indexed.load(), direct.load())
    pd.testing.assert_frame_equal(indexed.load(categories=True), direct.load(categories=True))
    assert indexed.stored_runs() == direct.stored_runs()
    assert indexed.damaged == direct.damaged


def test_the_reports_rows_hold_each_repeated_text_once_and_read_as_the_files(tmp_path: Path) -> None:
    root, _ = _folder(tmp_path)
    plain, held = ResultStore(root).load(), ResultStore(root).load(categories=True)
    repeated = [column for column in index.REPEATED_TEXT if column in plain and plain[column].notna().any()]
    assert {"identity", "versions", "host", "optimizer_params"} <= set(repeated)
    for column in repeated:
        categories = held[column].cat.categories
        assert list(categories) == sorted(categories) and len(categories) == plain[column].nunique()
        assert held[column].astype(object).tolist() == plain[column].astype(object).tolist()
    pd.testing.assert_frame_equal(held.drop(columns=repeated), plain.drop(columns=repeated))


def _index_files(root: Path) -> list[Path]:
    return sorted((root / "index").glob("*.parquet"))


def test_the_index_agrees_with_the_run_files(tmp_path: Path) -> None:
    root, runs = _folder(tmp_path)
    _agrees(root)  # builds the index
    assert len(_index_files(root)) == 1
    assert ResultStore(root).load()["run_id"].nunique() == len(runs)
    _agrees(root)  # read from the index
    before = render(folder_status(root))
    first = build_report(root, tmp_path / "with", formats=["markdown"])
    shutil.rmtree(root / "index")
    assert render(folder_status(root)) == before
    second = build_report(root, tmp_path / "without", formats=["markdown"])
    assert first.read_text() == second.read_text()
    assert (tmp_path / "with" / "summary.csv").read_text() == (tmp_path / "without" / "summary.csv").read_text()


def test_the_index_is_read_instead_of_the_run_files(tmp_path: Path) -> None:
    root, runs = _folder(tmp_path)
    ResultStore(root).stored_runs()
    current = {entry.name: signature(entry) for entry in os.scandir(root / "runs")}

    def refuse(name: str) -> None:
        raise AssertionError(f"{name}: read from its run file, though indexed")

    table = RunIndex(root / "index").read(current, refuse)
    assert table is not None and set(table["run_id"].to_pylist()) == {spec.run_id for spec in runs}


def test_an_index_built_a_batch_at_a_time_agrees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index, "BATCH", 2)
    root, _ = _folder(tmp_path)
    _agrees(root)  # 16 runs: 8 files of 2, then compacted into one
    assert len(_index_files(root)) == 1
    _agrees(root)


def test_a_run_landing_after_the_index_is_read(tmp_path: Path) -> None:
    root, runs = _folder(tmp_path, range(2))
    ResultStore(root).load()
    late = specs(tmp_path, ["p", "q"], ["a", "bb"], range(2, 4))
    for spec in late:
        write_run(root, spec, trace(_final(spec)))
    _agrees(root)
    assert {run.run_id for run in ResultStore(root).stored_runs()} == {spec.run_id for spec in runs + late}
    assert len(_index_files(root)) == 2  # the first index file and the late runs' part


def test_a_deleted_or_replaced_run_file_is_noticed(tmp_path: Path) -> None:
    root, runs = _folder(tmp_path)
    ResultStore(root).load()
    store = ResultStore(root)
    store.path(runs[0].run_id).unlink()
    replaced = runs[2]
    assert store.status(replaced.run_id) == "ok"
    write_run(root, replaced, [], error="RuntimeError: rerun and failed")
    _agrees(root)
    summaries = {run.run_id: run for run in ResultStore(root).stored_runs()}
    assert runs[0].run_id not in summaries
    assert summaries[replaced.run_id].status == "failed"
    assert len(_index_files(root)) == 1  # stale rows dropped: compacted into one file
    assert set(pq.read_table(_index_files(root)[0])["run_id"].to_pylist()) == {s.run_id for s in runs[1:]}


def test_a_damaged_index_file_is_rebuilt_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root, _ = _folder(tmp_path)
    ResultStore(root).load()
    (damaged,) = _index_files(root)
    damaged.write_bytes(damaged.read_bytes()[:-200])
    (root / "index" / "junk.parquet").write_bytes(b"not parquet")
    with caplog.at_level(logging.WARNING, logger="dfo_bench.store.index"):
        _agrees(root)
    warned = [record.getMessage() for record in caplog.records]
    assert any(str(damaged) in line and "damaged index file" in line for line in warned)
    assert any("junk.parquet" in line for line in warned)
    assert not damaged.exists() and not (root / "index" / "junk.parquet").exists()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dfo_bench.store.index"):
        _agrees(root)
    assert not caplog.records


def test_damaged_run_files_are_noted_on_every_read(tmp_path: Path) -> None:
    root, runs = _folder(tmp_path)
    cut = ResultStore(root).path(runs[3].run_id)
    cut.write_bytes(cut.read_bytes()[:-100])
    (root / "runs" / "notes.txt").write_text("stray\n")
    for _ in range(2):  # building the index, then with it
        store = ResultStore(root)
        assert runs[3].run_id not in {run.run_id for run in store.stored_runs()}
        assert [(file.path.name, file.reason.split(" (")[0]) for file in store.damaged] == [
            ("notes.txt", "not a run file"),
            (cut.name, "unreadable Parquet"),
        ]
    _agrees(root)


def _write_and_read(root: Path, runs: list[RunSpec]) -> None:
    for spec in runs:
        write_run(root, spec, trace(_final(spec)))
        ResultStore(root).stored_runs()  # each read adds to the index, and compacts it now and then


def test_two_processes_writing_at_once_leave_an_index_that_agrees(tmp_path: Path) -> None:
    runs = specs(tmp_path, ["p"], ["a", "bb"], range(12))
    root = tmp_path / "results"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_and_read, args=(root, runs[i::2])) for i in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    assert not list((root / "index").glob(".*.tmp"))
    _agrees(root)
    current = {entry.name: signature(entry) for entry in os.scandir(root / "runs")}
    table = RunIndex(root / "index").read(current, lambda name: pytest.fail(f"{name} not indexed"))
    assert table is not None
    pd.testing.assert_frame_equal(decoded(table).to_pandas(), ResultStore(root, index=False).load())
