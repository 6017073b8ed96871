"""Nothing the store is asked to write lands outside its folder, whatever the name it is given.

Names come from the user (a label is part of every run id, a suite's name names its copy), so
each is checked where it becomes a file name: a path separator, ``..``, NUL, a hidden name, a
name too long for the file system, a link out of the folder, and two names that differ only in
case (one file on macOS and Windows) are refused with one line, before anything is written.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dfo_bench.errors import StoreError
from dfo_bench.record import RunResult
from dfo_bench.spec import RunSpec
from dfo_bench.store import ResultStore
from dfo_bench.store.folder import NAME_BYTES, TEMPORARY_BYTES, file_name
from tests.report_data import specs, trace

BAD_NAMES = {
    "parent folders": ("../../../escaped", "path separator"),
    "absolute path": ("/etc/passwd", "path separator"),
    "a slash inside": ("adam/tuned", "path separator"),
    "a backslash": ("C:\\Windows\\x", "path separator"),
    "two dots": ("..", "'..'"),
    "two dots inside": ("a..b", "'..'"),
    "hidden": (".hidden", "starts with '.'"),
    "NUL": ("a\x00b", "control character"),
    "newline": ("a\nb", "control character"),
    "not Unicode": ("a\ud800", "not valid Unicode"),
    "too long": ("x" * 300, "bytes; at most 230 fit"),
}


def relabelled(spec: RunSpec, label: str) -> RunSpec:
    """``spec`` with a problem label the suite's validation may not allow: what the store must refuse on its own."""
    return spec.model_copy(update={"problem": spec.problem.model_copy(update={"label": label})})


def result(spec: RunSpec) -> RunResult:
    return RunResult(spec=spec, run_seed=0, started_at="2026-01-01T00:00:00+00:00", device="cpu", trace=trace(0.9))


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("case", list(BAD_NAMES))
def test_a_name_that_cannot_be_a_file_of_the_folder_is_refused_in_one_line(case: str, tmp_path: Path) -> None:
    name, why = BAD_NAMES[case]
    (spec,) = specs(tmp_path, ["p"], ["a"], [0])
    bad = relabelled(spec, name)
    store = ResultStore(tmp_path / "deep" / "er" / "results")
    attempts = [
        lambda: store.path(name),
        lambda: store.write(result(bad)),
        lambda: store.claim(bad, owner="this suite"),
        lambda: store.status(bad.run_id),
        lambda: store.write_suite_copy(name, "name: x\n", {}, []),
        lambda: store.check_names([spec.run_id], suite=name),
        lambda: store.check_names([bad.run_id]),
    ]
    for attempt in attempts:
        with pytest.raises(StoreError) as error:
            attempt()
        line = str(error.value)
        assert "\n" not in line and why in line and "cannot be a file name of a results folder" in line, line
    assert files(tmp_path) == ["synthetic.yaml"], "something was written"


def test_a_study_label_with_a_slash_keeps_its_file_name_and_one_with_dots_is_refused(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.check_names([], studies=[("digits-mlp", "adam/tuned")])  # written as adam_tuned since before the redesign
    with pytest.raises(StoreError, match=r"'\.\.'"):
        store.check_names([], studies=[("digits-mlp", "../../escaped")])


def test_the_longest_name_that_fits_is_allowed_and_one_byte_more_is_not(tmp_path: Path) -> None:
    most = NAME_BYTES - TEMPORARY_BYTES - len(".expected.json")  # the longest file a suite copy brings
    store = ResultStore(tmp_path)
    assert store.write_suite_copy("x" * most, "name: x\n", {}, []).name == "x" * most + ".yaml"
    with pytest.raises(StoreError, match="makes a file name of 231 bytes; at most 230 fit"):
        store.write_suite_copy("x" * (most + 1), "name: x\n", {}, [])
    most = NAME_BYTES - TEMPORARY_BYTES - len(".yaml")
    # bytes, not characters: 'é' is two bytes in UTF-8
    with pytest.raises(StoreError, match="at most 230 fit"):
        file_name("é" * (most // 2 + 1), ".yaml")
    assert file_name("é" * (most // 2), ".yaml") == "é" * (most // 2) + ".yaml"
    with pytest.raises(StoreError, match="is empty"):
        store.write_suite_copy("", "name: x\n", {}, [])


def test_run_ids_that_differ_only_in_case_are_refused(tmp_path: Path) -> None:
    """On macOS and Windows ``RS`` and ``rs`` are one file: the second run would overwrite (or be
    taken for) the first. Refused on every file system, so a folder means the same everywhere."""
    (spec,) = specs(tmp_path, ["p"], ["rs"], [0])
    upper = spec.model_copy(update={"optimizer": spec.optimizer.model_copy(update={"label": "RS"})})
    assert upper.run_id.casefold() == spec.run_id.casefold() and upper.run_id != spec.run_id
    store = ResultStore(tmp_path / "results")
    with pytest.raises(StoreError, match="differ only in case") as error:
        store.check_names([spec.run_id, upper.run_id])
    assert "\n" not in str(error.value)
    store.write(result(spec))
    with pytest.raises(StoreError, match="differ only in case"):
        store.check_names([upper.run_id])  # a later suite on the folder, before it runs anything
    for attempt in (lambda: store.write(result(upper)), lambda: store.claim(upper, owner="this suite")):
        with pytest.raises(StoreError, match=f"{spec.run_id}.parquet is stored beside it, a name that differs only in case"):
            attempt()
    assert [p.name for p in (store.root / "runs").iterdir()] == [f"{spec.run_id}.parquet"]
    assert not (store.root / "running").exists() or not list((store.root / "running").iterdir())
    store.check_names([spec.run_id])  # the same run again is no collision


def test_a_link_out_of_the_folder_is_neither_followed_nor_written_through(tmp_path: Path) -> None:
    (spec,) = specs(tmp_path, ["p"], ["a"], [0])
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.parquet").write_bytes(b"not yours")
    dead = 999_999_999
    (outside / f".victim.{dead}.tmp").write_text("someone else's temporary file")
    store = ResultStore(tmp_path / "results")
    (store.root / "runs").mkdir(parents=True)
    (store.root / "runs" / f"{spec.run_id}.parquet").symlink_to(outside / "secret.parquet")
    (store.root / "elsewhere").symlink_to(outside, target_is_directory=True)
    with pytest.raises(StoreError, match="outside"):
        store.status(spec.run_id)
    with pytest.raises(StoreError, match="outside"):
        store.write(result(spec))
    assert store.stored_runs() == []
    assert [(d.path.name, d.reason.startswith("a link to")) for d in store.damaged] == [(f"{spec.run_id}.parquet", True)]
    store.remove_stale_temporaries()
    assert (outside / f".victim.{dead}.tmp").exists() and (outside / "secret.parquet").read_bytes() == b"not yours"


def test_a_link_to_a_folder_holding_the_runs_is_allowed(tmp_path: Path) -> None:
    """A ``runs/`` moved to a bigger disk and linked back stays the folder's."""
    (spec,) = specs(tmp_path, ["p"], ["a"], [0])
    disk = tmp_path / "scratch"
    disk.mkdir()
    store = ResultStore(tmp_path / "results")
    store.root.mkdir()
    os.symlink(disk, store.root / "runs", target_is_directory=True)
    store.write(result(spec))
    assert store.status(spec.run_id) == "ok" and [p.name for p in disk.iterdir()] == [f"{spec.run_id}.parquet"]
