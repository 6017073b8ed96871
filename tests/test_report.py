"""The report, built from results of a real tiny suite: what a user reads must match the stored runs."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dfo_bench.executors import SequentialExecutor, run_suite
from dfo_bench.record import RunResult
from dfo_bench.report import build_report
from dfo_bench.report.curves import common_grid, seed_band, step_on_grid
from dfo_bench.report.figures import Line, Style
from dfo_bench.report.interactive import _traces, plotly_js
from dfo_bench.store import ResultStore
from dfo_bench.suite import load_suite

SUITE = """
name: tiny
problems: [digits-mlp]
optimizers: [random-search, {name: de, params: {popsize: 8}}, adam]
seeds: [0, 1]
budget: {samples: 300000}
checkpoints: 20
executor: sequential
"""
LABELS = ["random-search", "de[popsize=8]", "adam"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FAILED_SEED = 7


def _failed_result(suite_file: Path) -> RunResult:
    """A run of adam that crashed after one checkpoint: its partial metrics must not be averaged."""
    spec = next(s for s in load_suite(suite_file).runs if s.optimizer.label == "adam")
    spec = spec.model_copy(update={"seed": FAILED_SEED})
    row = {"evaluations": 5, "samples": 960, "seconds": 0.01, "best_seen_loss": 9.0}
    for split in ("train", "val", "test"):
        row |= {f"{split}_loss": 9.0, f"{split}_accuracy": 0.0, f"{split}_f1": 0.0}
    error = "FloatingPointError: training loss of the recommended point is nan\n  at runner.py:160"
    return RunResult(
        spec=spec, run_seed=1, started_at="2024-01-01T00:00:00+00:00", device="cpu", dim=2410, search_dim=2410, trace=[row], error=error
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder: the tiny suite run for real, plus one failed adam run."""
    root = tmp_path_factory.mktemp("tiny")
    suite_file = root / "tiny.yaml"
    suite_file.write_text(SUITE)
    run_suite(load_suite(suite_file), root / "results", SequentialExecutor(), progress=False)
    ResultStore(root / "results").write(_failed_result(suite_file))
    return root / "results"


@pytest.fixture(scope="module")
def report(results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_report(results, tmp_path_factory.mktemp("report") / "out")


@pytest.fixture(scope="module")
def finals(results: Path) -> pd.DataFrame:
    """The final row of every stored run, read straight from the Parquet files."""
    runs = pd.concat([pd.read_parquet(f) for f in (results / "runs").glob("*.parquet")])
    return runs.sort_values("checkpoint").groupby("run_id").tail(1)


def _table_row(text: str, label: str) -> str:
    """The row of ``label`` in the first (main) table of the Markdown report."""
    rows = [line for line in text.split("### Fixed target")[0].splitlines() if line.startswith(f"|  | {label} ")]
    assert len(rows) == 1, f"no single table row for {label}"
    return rows[0]


def test_markdown_and_html_show_each_optimizer_with_its_mean_test_accuracy_and_interval(report: Path, finals: pd.DataFrame) -> None:
    markdown = (report.parent / "report.md").read_text()
    page = report.read_text()
    ok = finals[finals["status"] == "ok"]
    for label in LABELS:
        accuracy = ok.loc[ok["optimizer_label"] == label, "final_test_accuracy"]
        mean = f"{accuracy.mean():.4f}"
        row = _table_row(markdown, label)
        found = re.search(rf"\| {mean} \[([\d.]+), ([\d.]+)\] \|", row)
        assert found, row
        low, high = (float(v) for v in found.groups())
        assert accuracy.min() - 1e-4 <= low <= accuracy.mean() + 1e-4 and accuracy.mean() - 1e-4 <= high <= accuracy.max() + 1e-4
        assert re.search(rf'<td data-sort="[^"]*">{re.escape(label)}</td>.*?<td data-sort="[^"]*">{mean} \[', page)
    assert "tiny" in markdown and "torch" in markdown
    assert "Too few seeds" in markdown  # two seeds: no test can be significant, and the report says so


def test_summary_csv_matches_the_stored_runs(report: Path, finals: pd.DataFrame) -> None:
    summary = pd.read_csv(report.parent / "summary.csv").set_index("optimizer")
    ok = finals[finals["status"] == "ok"]
    expected = ok.groupby("optimizer_label")["final_test_accuracy"].agg(["mean", "median"])
    assert sorted(summary.index) == sorted(LABELS)
    np.testing.assert_allclose(summary.loc[expected.index, "test_accuracy_mean"], expected["mean"])
    np.testing.assert_allclose(summary.loc[expected.index, "test_accuracy_median"], expected["median"])
    assert list(summary["rank"]) == sorted(summary["rank"])
    assert summary["rank"].between(1, len(LABELS)).all()


def test_failed_run_is_listed_and_not_averaged(report: Path, finals: pd.DataFrame) -> None:
    summary = pd.read_csv(report.parent / "summary.csv").set_index("optimizer")
    adam_ok = finals[(finals["optimizer_label"] == "adam") & (finals["status"] == "ok")]
    assert summary.loc["adam", ["seeds_ok", "seeds_failed"]].tolist() == [2, 1]
    assert summary.loc["adam", "test_accuracy_mean"] == pytest.approx(adam_ok["final_test_accuracy"].mean())
    assert summary.loc["adam", "evaluations"] == pytest.approx(adam_ok["final_evaluations"].mean())
    failed_id = finals.loc[finals["status"] == "failed", "run_id"].item()
    for text in ((report.parent / "report.md").read_text(), report.read_text()):
        lines = [line for line in text.splitlines() if failed_id in line]
        assert len(lines) == 1 and "FloatingPointError" in lines[0] and "at runner.py:160" in lines[0]
        assert "Failed runs" in text


def test_figures_are_valid_png_and_svg_linked_from_markdown(report: Path) -> None:
    links = re.findall(r"\]\(([^)]+\.png)\)", (report.parent / "report.md").read_text())
    views = [f"convergence-digits-mlp-{m}-vs-{x}.png" for m in ("best-train-loss", "val-accuracy", "test-accuracy") for x in ("evaluations", "samples", "seconds")]
    assert set(views) <= set(links)
    assert {"ecdf-digits-mlp-val-accuracy.png", "ecdf-digits-mlp-train-loss.png", "performance-profile.png"} <= set(links)
    for link in links:
        png = (report.parent / link).read_bytes()
        assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000
        svg = ET.parse(report.parent / link.replace(".png", ".svg")).getroot()
        assert svg.tag.endswith("svg") and len(svg) > 0


def test_html_page_needs_no_other_file(report: Path) -> None:
    page = report.read_text()
    assert page.count(plotly_js()) == 1
    page = page.replace(plotly_js(), "")  # the bundle's own strings (links it can draw) load nothing
    assert not re.search(r"<script[^>]*\bsrc=|<link\b|<iframe", page)
    assert not re.search(r'(src|href)="(?!#|data:)', page)
    assert page.count("Plotly.newPlot(") == 9 + 2 + 1  # convergence views, ECDFs, performance profile


def test_html_page_shows_configurations_environment_and_p_values(report: Path) -> None:
    page = report.read_text()
    assert "Run configurations" in page and "popsize" in page and "logical cores" in page and "Torch threads per run" in page
    assert "Pairwise two-sided Wilcoxon" in page
    for label in LABELS:
        assert f">{label}<" in page


def test_no_half_written_files_are_left(report: Path) -> None:
    assert not [p.name for p in report.parent.iterdir() if p.name.endswith(".tmp")]


def test_report_builds_without_running_anything(results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("the report ran a run")

    monkeypatch.setattr("dfo_bench.runner.execute", refuse)
    monkeypatch.setattr("dfo_bench.executors.base.execute", refuse)
    before = sorted((results / "runs").iterdir())
    assert build_report(results, tmp_path / "out") == tmp_path / "out" / "report.html"
    assert build_report(results, tmp_path / "out").exists()  # rebuilding into the same folder is fine
    assert sorted((results / "runs").iterdir()) == before


@pytest.mark.parametrize("layout", ["missing", "empty", "empty runs folder"])
def test_cli_without_results_exits_2_in_one_line_and_writes_nothing(tmp_path: Path, layout: str) -> None:
    results = tmp_path / "results"
    if layout != "missing":
        results.mkdir()
    if layout == "empty runs folder":
        (results / "runs").mkdir()
    out = tmp_path / "report"
    cli = subprocess.run(
        [sys.executable, "-m", "dfo_bench", "report", str(results), "--out", str(out)], capture_output=True, text=True
    )
    assert cli.returncode == 2
    assert cli.stderr.count("\n") == 1 and "no stored results" in cli.stderr and str(results) in cli.stderr
    assert not out.exists()


def test_step_on_grid_takes_the_last_checkpoint_and_leaves_gaps_outside_the_trace() -> None:
    x = np.array([0.0, 10.0, 20.0, 40.0])
    y = np.array([5.0, 4.0, 3.0, 2.0])
    grid = np.array([5.0, 10.0, 15.0, 20.0, 39.0, 40.0, 41.0])
    np.testing.assert_array_equal(step_on_grid(x, y, grid), [np.nan, 4.0, 4.0, 3.0, 3.0, 2.0, np.nan])


def _seconds_traces(seconds: dict[str, list[float]]) -> pd.DataFrame:
    """One run per key, checkpoints at the given seconds, the loss falling by 0.1 per checkpoint."""
    rows = [
        {"run_id": run, "checkpoint": i, "seconds": x, "loss": 2.0 - 0.1 * i + 0.01 * len(run)}
        for run, xs in seconds.items()
        for i, x in enumerate(xs)
    ]
    return pd.DataFrame(rows)


def test_bands_against_seconds_are_drawn_only_where_half_the_seeds_have_reached() -> None:
    # As the quickstart recorded direct search before setup left the clock: two seeds' first
    # evaluation at 30 s (the kernel compiling), the third seed over by 2.9 s.
    runs = _seconds_traces({"a": [0, 30.4, 31.0, 33.5], "bb": [0, 30.3, 32.0, 34.0], "ccc": [0, 0.01, 1.0, 2.9]})
    grid = common_grid(runs, "seconds")
    band = seed_band(runs, "seconds", "loss", grid)
    drawn = np.flatnonzero(~np.isnan(band.median))
    assert drawn.size and (np.diff(drawn) == 1).all()  # one stretch, no bridge over the empty 2.9-30.3 s
    assert grid[drawn[0]] >= 30.4 and grid[drawn[-1]] == 33.5  # where two of the three seeds have values
    np.testing.assert_array_equal(np.isnan(band.low), np.isnan(band.median))
    np.testing.assert_array_equal(np.isnan(band.high), np.isnan(band.median))
    at = np.searchsorted(grid, 33.5)
    assert band.median[at] == pytest.approx(np.median([2.0 - 0.3 + 0.01, 2.0 - 0.2 + 0.02]))


def test_interactive_band_is_one_polygon_per_stretch_the_seeds_cover() -> None:
    runs = _seconds_traces({"a": [0, 0.01, 1.0, 3.0], "bb": [0, 30.0, 32.0, 34.0]})  # two seeds that never overlap
    grid = common_grid(runs, "seconds")
    band = seed_band(runs, "seconds", "loss", grid)
    traces = _traces(Line("direct-search", band.x, band.median, Style("#1f77b4", "solid"), band.low, band.high), step=True)
    fills = [t for t in traces if t.fill == "tonexty"]
    assert len(fills) == 2
    for trace in traces[:-1]:  # the band's edges: no gaps inside a polygon, none across the plot
        assert None not in trace.y and (max(trace.x) <= 3.0 or min(trace.x) >= 30.0)
