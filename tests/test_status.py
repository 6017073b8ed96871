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
