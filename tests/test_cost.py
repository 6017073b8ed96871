"""Cost and throughput per run: evaluations per second of search and peak memory, stored with every
run and shown by the report beside the final metrics; files stored before them still report."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from dfo_bench.memory import MemoryMeter
from dfo_bench.probe import Speed
from dfo_bench.report import build_report
from dfo_bench.runner import execute
from dfo_bench.spec import RunSpec
from dfo_bench.store import ResultStore, to_frame
from dfo_bench.suite import load_suite

MIB = 2**20
MEMORY = ["peak_rss_bytes", "rss_increase_bytes", "peak_cuda_bytes"]


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> list[RunSpec]:
    path = tmp_path_factory.mktemp("suite") / "cost.yaml"
    suite = {
        "name": "cost",
        "problems": ["digits-mlp"],
        "optimizers": ["random-search", {"name": "de", "params": {"popsize": 8}}],
        "seeds": [0, 1],
        "budget": {"evaluations": 200},
        "checkpoints": 20,
        "executor": "sequential",
    }
    path.write_text(yaml.safe_dump(suite))
    return list(load_suite(path).runs)


@pytest.fixture(scope="module")
def stored(specs: list[RunSpec], tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("cost") / "results"
    store = ResultStore(results)
    for spec in specs:
        result = execute(spec, probe=lambda device: Speed(gflops=100.0, gbps=20.0))
        assert result.error is None
        store.write(result)
    return results


def _report(results: Path, tmp_path: Path, formats: tuple[str, ...] = ("markdown",)) -> Path:
    return build_report(results, tmp_path / "report", formats=formats)


def test_a_run_stores_plausible_throughput_and_memory(specs: list[RunSpec]) -> None:
    result = execute(specs[0])
    assert result.error is None and result.memory is not None
    frame = to_frame(result)
    assert {"evaluations_per_second", *MEMORY} <= set(frame.columns)
    row = frame.iloc[-1]
    assert row["evaluations_per_second"] == pytest.approx(row["final_evaluations"] / row["final_seconds"])
    assert 10 < row["evaluations_per_second"] < 1e7
    if result.memory.peak_rss is None:
        pytest.skip("this system gives no resident set (no /proc): memory is 'not recorded'")
    # an interpreter with torch and the digits data resident, on a machine with less than a TiB
    assert 50 * MIB < row["peak_rss_bytes"] < 2**40
    assert 0 <= row["rss_increase_bytes"] <= row["peak_rss_bytes"]
    assert pd.isna(row["peak_cuda_bytes"])  # a CPU run


def test_the_peak_is_the_runs_own_not_an_earlier_runs_of_the_same_process() -> None:
    cpu = torch.device("cpu")
    first = MemoryMeter(cpu)
    block = torch.ones(64 * MIB)  # 256 MiB resident
    big = first.read()
    del block
    second = MemoryMeter(cpu)  # a later run of the same worker allocates little
    small = torch.ones(MIB)
    after = second.read()
    del small
    if big.peak_rss is None or after.peak_rss is None:
        pytest.skip("this system cannot reset the peak resident set")
    assert big.rss_increase is not None and big.rss_increase >= 200 * MIB
    assert after.rss_increase is not None and after.rss_increase < 100 * MIB
    assert after.peak_rss < big.peak_rss - 150 * MIB


def test_report_shows_the_cost_table_in_every_format(stored: Path, tmp_path: Path) -> None:
    out = _report(stored, tmp_path, ("markdown", "html", "latex"))
    finals = ResultStore(stored).load().groupby("run_id").tail(1)
    markdown, html, latex = ((out.parent / f"report.{ext}").read_text() for ext in ("md", "html", "tex"))
    for text in (markdown, html, latex):  # LaTeX captions it "digits-mlp: cost: ..."
        assert "cost: evaluations per second of search and peak memory" in text.lower()
        assert "evaluations/s" in text and "peak RSS (MiB)" in text
        assert "not recorded" not in text.lower().split("cost: evaluations per second")[1].split("median over seeds at")[0]
    for label, part in finals.groupby("optimizer_label"):
        rate = (part["final_evaluations"] / part["final_seconds"]).median()
        row = next(line for line in markdown.splitlines() if line.startswith(f"| {label} | 2 |"))
        assert f"{rate:,.0f}" in row or f"{rate:,.1f}" in row
        assert f"{part['peak_rss_bytes'].median() / MIB:,.0f}" in row
    assert "peak CUDA" not in markdown  # no run on a GPU: the column is left out


def test_report_of_files_stored_before_the_cost_columns_says_not_recorded(stored: Path, tmp_path: Path) -> None:
    old = shutil.copytree(stored, tmp_path / "old")
    for path in (old / "runs").glob("*.parquet"):  # as files written before these columns existed
        pd.read_parquet(path).drop(columns=["evaluations_per_second", *MEMORY]).to_parquet(path)
    markdown = _report(old, tmp_path).read_text()
    cost = markdown.split("Cost: evaluations per second of search and peak memory")[1].split("Medians over the ok seeds")[0]
    rows = [line for line in cost.splitlines() if line.startswith("| random-search") or line.startswith("| de")]
    assert len(rows) == 2 and all("not recorded" in row and "0 / 2" in row for row in rows)
    assert "Memory not recorded for runs stored before it was measured" in markdown
    assert all(float(row.split("|")[3].replace(",", "")) > 0 for row in rows)  # evaluations/s from the final columns
