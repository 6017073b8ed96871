"""The report reads each problem's declared metrics from the run files, so that it loads no problem
class and no torch; files written before that column existed get the same report through the
registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dfo_bench.executors import SequentialExecutor, run_suite
from dfo_bench.problems.metrics import metrics_from_json, metrics_json
from dfo_bench.registry import problems
from dfo_bench.suite import load_suite
from tests.conftest import cli_env

SUITE = {
    "name": "declared",
    "problems": ["digits-mlp", {"name": "sphere", "params": {"dim": 4}}],
    "optimizers": ["random-search", {"name": "de", "params": {"popsize": 8}}],
    "seeds": [0, 1],
    "budget": {"evaluations": 40},
}
REPORT_AND_IMPORTS = (
    "import sys; from dfo_bench.cli import cli; "
    "cli.main(['report', sys.argv[1], '--out', sys.argv[2], '--format', 'markdown', '--targets', 'val_accuracy=0.2,0.3'], "
    "standalone_mode=False); "
    "print('torch imported:', 'torch' in sys.modules)"
)


@pytest.mark.parametrize("name", problems.names())
def test_every_problems_declared_metrics_survive_the_run_file(name: str) -> None:
    declared = problems.get(name).reported_metrics
    assert metrics_from_json(metrics_json(declared)) == declared


def _report(results: Path, out: Path) -> str:
    shown = subprocess.run(
        [sys.executable, "-c", REPORT_AND_IMPORTS, str(results), str(out)], capture_output=True, text=True, env=cli_env()
    )
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.splitlines()[-1]


def test_the_report_reads_declared_metrics_from_the_runs_without_torch(write_suite, tmp_path: Path) -> None:
    suite = load_suite(write_suite(SUITE))
    results = tmp_path / "results"
    run_suite(suite, results, SequentialExecutor(), progress=False)
    assert _report(results, tmp_path / "new") == "torch imported: False"
    new = (tmp_path / "new" / "report.md").read_text()
    assert "val accuracy" in new and "≥ 0.3" in new

    for file in (results / "runs").glob("*.parquet"):  # as written before the column existed
        table = pq.read_table(file)
        pq.write_table(table.drop_columns(["declared_metrics"]), file)
    for index in (results / "index").glob("*.parquet"):
        index.unlink()
    assert _report(results, tmp_path / "old") == "torch imported: True"
    assert (tmp_path / "old" / "report.md").read_text() == new


def test_folders_merged_keep_their_repeated_texts_as_categories(write_suite, tmp_path: Path) -> None:
    from dfo_bench import api
    from dfo_bench.store.index import REPEATED_TEXT

    for seed in (0, 1):
        suite = load_suite(write_suite({**SUITE, "seeds": [seed]}, f"seed{seed}.yaml"))
        run_suite(suite, tmp_path / f"seed{seed}", SequentialExecutor(), progress=False)
    for file in (tmp_path / "seed1" / "runs").glob("*.parquet"):  # one folder written before the column
        pq.write_table(pq.read_table(file).drop_columns(["declared_metrics"]), file)
    runs = api.results([tmp_path / "seed0", tmp_path / "seed1"])
    assert sorted(runs["seed"].unique()) == [0, 1]
    for column in REPEATED_TEXT:
        categories = runs[column].cat.categories
        assert list(categories) == sorted(categories), column
    assert runs.loc[runs["seed"] == 1, "declared_metrics"].isna().all()
    assert runs.loc[runs["seed"] == 0, "declared_metrics"].notna().all()
