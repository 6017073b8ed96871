"""The report's "Improvement over the start": each run's final point against its own pre-trained
start, paired within the run, one-sided Wilcoxon, Holm over the problem's optimizers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dfo_bench.executors import SequentialExecutor, run_suite
from dfo_bench.report import build_report
from dfo_bench.report.start import analyse_start, one_sided_p, seeds_needed_one_sided
from dfo_bench.suite import load_suite
from tests.test_pretrain import suite_dict


def frame(changes: dict[str, list[float]], pretrained: bool = True) -> pd.DataFrame:
    """Two checkpoints per run (0 evaluations, then the end) with the given final − start per seed."""
    rows = []
    for optimizer, deltas in changes.items():
        for seed, delta in enumerate(deltas):
            start = 0.5 + 0.01 * seed
            common = {
                "run_id": f"{optimizer}-{seed}",
                "optimizer_label": optimizer,
                "seed": seed,
                "status": "ok",
                "final_test_accuracy": start + delta,
                "pretrain_samples": 1000.0 if pretrained else np.nan,
            }
            rows.append(common | {"checkpoint": 0, "evaluations": 0, "test_accuracy": start})
            rows.append(common | {"checkpoint": 1, "evaluations": 100, "test_accuracy": start + delta})
    return pd.DataFrame(rows)


def test_consistent_gains_are_significant_and_no_change_is_not() -> None:
    analysis = analyse_start(frame({"up": [0.01, 0.02, 0.03, 0.01, 0.02, 0.04, 0.02], "flat": [0.0] * 7}))
    assert analysis is not None
    table = analysis.table.set_index("optimizer")
    assert table.loc["up", "significant"] and table.loc["up", "improved"] == 7
    assert table.loc["up", "change"] == pytest.approx(np.mean([0.01, 0.02, 0.03, 0.01, 0.02, 0.04, 0.02]))
    assert table.loc["up", "change_ci_low"] > 0
    assert table.loc["up", "p"] == pytest.approx(1 / 2**7) and table.loc["up", "p_holm"] == pytest.approx(2 / 2**7)
    assert not table.loc["flat", "significant"] and table.loc["flat", "p"] == 1.0
    assert table.loc["up", "start"] == pytest.approx(0.53)


def test_losses_are_not_gains() -> None:
    analysis = analyse_start(frame({"down": [-0.02] * 8}))
    assert analysis is not None
    assert not analysis.table["significant"].iloc[0] and analysis.table["p"].iloc[0] > 0.99


def test_too_few_seeds_are_said_to_be_too_few() -> None:
    four = analyse_start(frame({"up": [0.01, 0.02, 0.03, 0.04]}))
    assert four is not None and not four.table["significant"].iloc[0]
    assert "at least 5 seeds are needed" in four.note
    assert seeds_needed_one_sided(4) == 7 and one_sided_p(np.zeros(3), np.ones(3)) == pytest.approx(1 / 8)


def test_runs_from_scratch_get_no_start_table() -> None:
    assert analyse_start(frame({"up": [0.1] * 6}, pretrained=False)) is None


def test_report_shows_the_start_of_pretrained_runs(write_suite, tmp_path: Path) -> None:
    suite = suite_dict(optimizers=["adam", {"name": "random-search", "params": {"popsize": 8}}], seeds=[0, 1])
    run_suite(load_suite(write_suite(suite)), tmp_path / "results", SequentialExecutor(), progress=False)
    build_report(tmp_path / "results", tmp_path / "report", formats=("markdown", "latex"))
    table = pd.read_csv(tmp_path / "report" / "start_vs_final.csv")
    assert set(table["optimizer"]) == {"adam", "random-search[popsize=8]"} and set(table["seeds"]) == {2}
    runs = pd.read_parquet(next((tmp_path / "results" / "runs").glob("*adam*.parquet")))
    adam = table[(table["optimizer"] == "adam") & (table["metric"] == "test accuracy")].iloc[0]
    # the start is the pre-trained point every optimizer shares on a seed
    assert adam["start"] == pytest.approx(table.loc[table["metric"] == "test accuracy", "start"].iloc[-1])
    assert runs["test_accuracy"].iloc[0] in set(
        pd.concat([pd.read_parquet(p) for p in (tmp_path / "results" / "runs").glob("*.parquet")]).query("checkpoint == 0")[
            "test_accuracy"
        ]
    )
    assert "### Improvement over the start" in (tmp_path / "report" / "report.md").read_text()
    assert "improvement over the start" in (tmp_path / "report" / "report.tex").read_text()
