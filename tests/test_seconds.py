"""The seconds a run records measure the method: one-time setup apart, a speed probe beside them,
and a report that says when the seconds of one comparison came from machines of different speed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from dfo_bench.probe import Speed, measure_speed
from dfo_bench.report import build_report
from dfo_bench.report.speed import NORMALISED_LABEL, TOLERANCE, check_speed
from dfo_bench.report.tables import final_rows
from dfo_bench.runner import execute
from dfo_bench.spec import RunSpec
from dfo_bench.store import ResultStore, to_frame
from dfo_bench.suite import load_suite
from tests.conftest import cli_env

DIRECT_SEARCH_RUN = """
import json, sys
from pathlib import Path
from dfo_bench.problems import mlp_moves_kernel
from dfo_bench.runner import execute
from dfo_bench.suite import load_suite
result = execute(load_suite(Path(sys.argv[1])).runs[0])
print(json.dumps({"error": result.error, "setup": result.setup_seconds, "kernel": mlp_moves_kernel.load() is not None,
                  "trace": result.trace}))
"""


def suite_file(tmp_path: Path, budget: dict, optimizers: list, seeds: list[int]) -> Path:
    """A suite of digits-mlp runs with the fewest checkpoints a suite may ask (20)."""
    path = tmp_path / "clock.yaml"
    suite = {"name": "clock", "problems": ["digits-mlp"], "optimizers": optimizers, "seeds": seeds, "budget": budget}
    path.write_text(yaml.safe_dump({**suite, "checkpoints": 20, "executor": "sequential"}))
    return path


def suite_specs(tmp_path: Path, budget: dict, optimizers: list, seeds: list[int]) -> list[RunSpec]:
    return list(load_suite(suite_file(tmp_path, budget, optimizers, seeds)).runs)


def _direct_search(suite: Path, extensions: Path) -> dict:
    """One direct-search run in a fresh process whose torch extensions are built in ``extensions``."""
    done = subprocess.run(
        [sys.executable, "-c", DIRECT_SEARCH_RUN, str(suite)],
        capture_output=True,
        text=True,
        env=cli_env(TORCH_EXTENSIONS_DIR=str(extensions)),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(
    shutil.which("ninja") is None or (shutil.which("c++") is None and shutil.which("g++") is None),
    reason="no toolchain to build the moves kernel with",
)
def test_a_cold_kernel_cache_costs_setup_seconds_not_search_seconds(tmp_path: Path) -> None:
    # The real kernel, compiled once (30–60 s): what the guard is about is that this problem's own
    # first-use cost lands before the clock, which a stand-in cost would not show.
    path = suite_file(tmp_path, {"evaluations": 2000}, ["direct-search"], [0])
    extensions = tmp_path / "torch-extensions"
    cold = _direct_search(path, extensions)  # compiles the kernel into the empty folder
    warm = _direct_search(path, extensions)  # loads it
    assert cold["error"] is None and warm["error"] is None and cold["kernel"] and warm["kernel"]
    assert cold["setup"] > warm["setup"] + 2.0
    cold_seconds = [row.pop("seconds") for row in cold["trace"]]
    warm_seconds = [row.pop("seconds") for row in warm["trace"]]
    assert cold["trace"] == warm["trace"]  # preparing changed no result
    assert cold_seconds[1] < 1.0 and warm_seconds[1] < 1.0  # the first evaluations
    assert cold_seconds[-1] <= 2 * warm_seconds[-1] + 1.0 and warm_seconds[-1] <= 2 * cold_seconds[-1] + 1.0


def test_runs_record_setup_seconds_and_the_speed_probe(tmp_path: Path) -> None:
    spec = suite_specs(tmp_path, {"evaluations": 200}, ["random-search"], [0])[0]
    result = execute(spec)
    assert result.error is None and result.setup_seconds is not None and result.speed is not None
    assert 0 < result.setup_seconds < 60 and result.speed.gflops > 0 and result.speed.gbps > 0
    frame = to_frame(result)
    assert (frame["setup_seconds"] == result.setup_seconds).all()
    assert (frame["probe_gflops"] == result.speed.gflops).all() and (frame["probe_gbps"] == result.speed.gbps).all()


def test_probe_is_short_and_sees_the_thread_count() -> None:
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        speed = measure_speed(torch.device("cpu"))
    finally:
        torch.set_num_threads(threads)
    assert 0 < speed.gflops < 1e5 and 0 < speed.gbps < 1e4


def _store(root: Path, specs: list[RunSpec], speed: Speed) -> None:
    store = ResultStore(root)
    for spec in specs:
        result = execute(spec, probe=lambda device: speed)
        assert result.error is None
        store.write(result)


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> list[RunSpec]:
    optimizers = ["random-search", {"name": "de", "params": {"popsize": 8}}]
    return suite_specs(tmp_path_factory.mktemp("suite"), {"evaluations": 200}, optimizers, [0, 1])


def _report(results: Path) -> str:
    out = build_report(results, results.parent / "report", formats=("markdown",))
    return out.read_text()


def test_report_flags_seconds_from_a_resumed_suite_whose_machine_got_slower(specs: list[RunSpec], tmp_path: Path) -> None:
    results = tmp_path / "results"
    _store(results, [s for s in specs if s.seed == 0], Speed(gflops=100.0, gbps=20.0))
    _store(results, [s for s in specs if s.seed == 1], Speed(gflops=50.0, gbps=20.0))  # resumed on a slower day
    text = _report(results)
    assert text.count("Seconds not comparable as they stand") == 2  # beside the main table and the convergence plots
    assert "speed probes up to 2× apart" in text and NORMALISED_LABEL in text
    targets = pd.read_csv(results.parent / "report" / "fixed_target.csv")  # the ERT in seconds too
    reached = targets[targets["successes"] > 0]
    assert len(reached) and reached["ert_seconds_normalised"].notna().all()
    finals = final_rows(ResultStore(results).load())
    summary = pd.read_csv(results.parent / "report" / "summary.csv").set_index("optimizer")
    for label, part in finals.groupby("optimizer_label"):
        expected = (part["final_seconds"] * part["probe_gflops"] / 75.0).mean()  # the median probe: 75 GFLOP/s
        assert summary.loc[label, "seconds_normalised"] == pytest.approx(expected)
        assert summary.loc[label, "setup_seconds"] == pytest.approx(part["setup_seconds"].mean())


def test_report_calls_seconds_comparable_within_the_tolerance(specs: list[RunSpec], tmp_path: Path) -> None:
    results = tmp_path / "results"
    _store(results, [s for s in specs if s.seed == 0], Speed(gflops=100.0, gbps=20.0))
    _store(results, [s for s in specs if s.seed == 1], Speed(gflops=100.0 * (1 + TOLERANCE) * 0.99, gbps=21.0))
    text = _report(results)
    assert "Seconds comparable: one machine" in text and "not comparable" not in text
    assert NORMALISED_LABEL not in text  # offered only where the seconds need it


def test_check_speed_counts_machines_by_cpu_and_cores(specs: list[RunSpec], tmp_path: Path) -> None:
    results = tmp_path / "results"
    _store(results, specs[:2], Speed(gflops=100.0, gbps=20.0))
    finals = final_rows(ResultStore(results).load())
    assert check_speed(finals).comparable
    other = json.dumps({"cpu": "another CPU", "cores": 4, "os": "Linux"})
    finals.loc[finals.index[0], "host"] = other
    check = check_speed(finals)
    assert not check.comparable and "ran on 2 machines" in check.note


def test_report_of_files_stored_before_the_probe_says_speed_not_recorded(specs: list[RunSpec], tmp_path: Path) -> None:
    results = tmp_path / "results"
    _store(results, specs, Speed(gflops=100.0, gbps=20.0))
    for path in (results / "runs").glob("*.parquet"):  # as files written before these columns existed
        pd.read_parquet(path).drop(columns=["setup_seconds", "probe_gflops", "probe_gbps"]).to_parquet(path)
    text = _report(results)
    assert "Speed not recorded (runs stored before the speed probe)" in text
    assert "not recorded (results stored before the speed probe)" in text  # the environment's probe line


def test_report_says_a_seconds_budget_holds_for_its_machine_only(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _store(results, suite_specs(tmp_path, {"seconds": 0.2}, ["random-search"], [0, 1]), Speed(gflops=100.0, gbps=20.0))
    text = _report(results)
    assert text.count("The budget is in wall seconds") == 2 and "Seconds comparable" in text
