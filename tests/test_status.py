"""``dfo-bench status`` reads what a suite copy expects from the record written with it, without
importing torch; a copy without that record (a folder from before it) or rewritten since is
expanded again, and counted the same way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dfo_bench.executors import SequentialExecutor, run_suite
from dfo_bench.store import ResultStore
from dfo_bench.suite import load_suite
from tests.conftest import CLI, cli_env

SUITE = {
    "name": "counted",
    "problems": ["digits-mlp"],
    "optimizers": ["random-search", {"name": "de", "params": {"popsize": 8}}],
    "seeds": [0, 1],
    "budget": {"evaluations": 40},
}
STATUS_AND_IMPORTS = (
    "import sys; from dfo_bench.cli import cli; cli.main(['status', sys.argv[1]], standalone_mode=False); "
    "print('torch imported:', 'torch' in sys.modules)"
)


def _status(out: Path) -> list[str]:
    shown = subprocess.run([*CLI, "status", str(out)], capture_output=True, text=True, env=cli_env())
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.splitlines()


def _rows(lines: list[str]) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in lines}


def test_status_counts_from_the_expected_runs_without_torch_and_expands_a_copy_without_them(write_suite, tmp_path: Path) -> None:
    suite = load_suite(write_suite(SUITE))
    out = tmp_path / "results"
    run_suite(suite, out, SequentialExecutor(), progress=False)
    store = ResultStore(out)
    for spec in suite.runs[:3]:
        store.path(spec.run_id).unlink()
    shown = subprocess.run([sys.executable, "-c", STATUS_AND_IMPORTS, str(out)], capture_output=True, text=True, env=cli_env())
    assert shown.returncode == 0, shown.stderr
    *counted, imported = shown.stdout.splitlines()
    assert imported == "torch imported: False"
    assert _rows(counted)["total"] == ["1", "0", "0", "3"]

    record = out / "suites" / "counted.expected.json"
    kept = record.read_text()
    record.unlink()  # as in a folder written before the record existed
    assert _status(out) == counted

    record.write_text(kept)
    copy = out / "suites" / "counted.yaml"
    text = yaml.safe_load(copy.read_text())
    copy.write_text(yaml.safe_dump({**text, "seeds": [0, 1, 2]}, sort_keys=False))  # the record is stale now
    assert _rows(_status(out))["total"] == ["1", "0", "0", "5"]


@pytest.mark.parametrize("damage", [b"{not json", b"\xff\xfe not UTF-8"])
def test_a_damaged_record_of_expected_runs_is_named_and_the_copy_expanded(damage: bytes, write_suite, tmp_path: Path) -> None:
    suite = load_suite(write_suite(SUITE))
    out = tmp_path / "results"
    run_suite(suite, out, SequentialExecutor(), progress=False)
    before = _status(out)
    (out / "suites" / "counted.expected.json").write_bytes(damage)
    shown = subprocess.run([*CLI, "status", str(out)], capture_output=True, text=True, env=cli_env())
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == before
    assert "counted.expected.json" in shown.stderr and "not a record of expected runs" in shown.stderr


def test_a_part_of_a_suite_runs_alone_and_the_whole_suite_completes_it(write_suite, tmp_path: Path) -> None:
    """``run --optimizers`` runs only the entries chosen; the folder still expects the others, and
    running the whole suite then runs only those."""
    path, out = write_suite(SUITE), tmp_path / "results"

    def run(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, "run", str(path), "--out", str(out), "--quiet", "--sequential", *options],
                              capture_output=True, text=True, env=cli_env())

    refused = run("--optimizers", "cma*")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().splitlines() == [
        f"error: {path}: --optimizers: cma*: no such label in the suite; allowed: de[popsize=8], random-search"
    ]
    assert not out.exists()

    part = run("--optimizers", "de*")
    assert part.returncode == 0, part.stderr
    assert sorted(r.optimizer_label for r in ResultStore(out).stored_runs()) == ["de[popsize=8]"] * 2
    assert _rows(_status(out))["total"] == ["2", "0", "0", "2"]

    whole = run()
    assert whole.returncode == 0, whole.stderr
    assert sorted(r.optimizer_label for r in ResultStore(out).stored_runs()) == ["de[popsize=8]"] * 2 + ["random-search"] * 2
    assert _rows(_status(out))["total"] == ["4", "0", "0", "0"]
