"""A results folder with damaged or foreign files in it: every reader of the store leaves each one
out, names it once with what is wrong, and reads everything else.

What a folder meets in practice: a run file cut short (a full disk, a copy interrupted), one with
a damaged page, a Parquet file of something else, a stray file or folder in ``runs/``, a run file
under another run's name, a study record that is not JSON or not a record, a marker that is not
a marker.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from dfo_bench.report.load import load_runs
from dfo_bench.store import ResultStore
from tests.report_data import specs, trace, write_run
from tests.test_store import TUNED_RECORD


@pytest.fixture
def damaged_folder(tmp_path: Path) -> tuple[ResultStore, list[str], dict[str, str]]:
    """Three readable runs (one failed) and a damaged file of each kind; the good run ids, and the
    expected reason (its start) per damaged file name (the truncated run file first)."""
    runs = specs(tmp_path, ["p"], ["a"], range(7))
    store = ResultStore(tmp_path / "results")
    for spec in runs:
        write_run(store.root, spec, trace(0.8), error="RuntimeError: diverged" if spec.seed == 2 else None)
    folder = store.root / "runs"
    truncated, corrupted, renamed, empty = (store.path(spec.run_id) for spec in runs[3:])
    truncated.write_bytes(truncated.read_bytes()[:-100])
    data = bytearray(corrupted.read_bytes())
    data[10:400] = b"\xff" * 390
    corrupted.write_bytes(bytes(data))
    shutil.copyfile(store.path(runs[0].run_id), renamed)
    empty.write_bytes(b"")
    pd.DataFrame({"x": [1, 2]}).to_parquet(folder / "other.parquet")
    (folder / "notes.txt").write_text("results of last week\n")
    (folder / "old").mkdir()
    (store.root / "tuning").mkdir()
    (store.root / "tuning" / TUNED_RECORD.name).write_bytes(TUNED_RECORD.read_bytes())
    (store.root / "tuning" / "torn.json").write_text('{"suite": ')
    (store.root / "tuning" / "list.json").write_text("[1, 2]")
    (store.root / "tuning" / "partial.json").write_text('{"suite": "s", "status": "tuned"}')
    (store.root / "running").mkdir()
    (store.root / "running" / "junk.json").write_bytes(b"\x00\xff\xfe")
    reasons = {
        truncated.name: "unreadable Parquet (",
        corrupted.name: "unreadable Parquet (",
        renamed.name: f"not the run its name says (it holds {runs[0].run_id})",
        empty.name: "unreadable Parquet (Parquet file size is 0 bytes)",
        "other.parquet": "not a run file (no column run_id, problem_label, optimizer_label, seed, status)",
        "notes.txt": "not a run file",
        "old": "not a run file (a folder)",
        "torn.json": "unreadable study record (",
        "list.json": "not a study record (",
        "partial.json": "not a study record (problem_label: Field required)",
        "junk.json": "not a running marker (",
    }
    return store, [spec.run_id for spec in runs[:3]], reasons


def check_damaged(found: list, reasons: dict[str, str]) -> None:
    assert sorted(d.path.name for d in found) == sorted(reasons)
    for file in found:
        assert file.reason.startswith(reasons[file.path.name]) and "\n" not in file.reason, (file.path.name, file.reason)


def test_every_reader_leaves_damaged_files_out_and_names_each_once(damaged_folder) -> None:
    store, good, reasons = damaged_folder
    runs = store.stored_runs()
    assert [r.run_id for r in runs] == good and [r.status for r in runs] == ["ok", "ok", "failed"]
    assert runs[2].error == "RuntimeError: diverged" and runs[0].error is None
    assert sorted(store.load()["run_id"].unique()) == good
    assert [r.problem_label for r in store.studies()] == ["digits-mlp"]
    assert store.running_markers() == []
    check_damaged(store.damaged, reasons)
    # read again: still named once each
    store.stored_runs()
    check_damaged(store.damaged, reasons)


def test_a_damaged_run_counts_as_not_stored_and_storing_it_again_mends_it(damaged_folder, tmp_path: Path) -> None:
    store, good, reasons = damaged_folder
    truncated = next(iter(reasons))
    run_id = truncated.removesuffix(".parquet")
    assert store.status(run_id) is None and store.final_metric(run_id, "val_accuracy") is None
    assert store.status(good[0]) == "ok" and store.final_metric(good[0], "val_accuracy") == pytest.approx(0.8)
    (spec,) = [s for s in specs(tmp_path, ["p"], ["a"], range(7)) if s.run_id == run_id]
    write_run(store.root, spec, trace(0.7))
    fresh = ResultStore(store.root)
    assert fresh.status(run_id) == "ok" and truncated not in {d.path.name for d in fresh.damaged}


def test_the_reports_loader_keeps_the_rest_and_lists_the_damaged_files(damaged_folder) -> None:
    store, good, reasons = damaged_folder
    loaded = load_runs([store.root])
    assert sorted(loaded.runs["run_id"].unique()) == good
    check_damaged(loaded.damaged, {name: r for name, r in reasons.items() if name != "junk.json"})  # markers are not read
