"""The report's statistics against known answers: significance where it is built in, none where
it is not, bootstrap coverage, Holm, ERT by hand, Friedman and the critical difference, profiles."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dfo_bench.report import build_report
from dfo_bench.report.stats import bootstrap_ci, holm, paired_wilcoxon, seeds_needed, stratified_ci
from dfo_bench.report.targets import (
    TARGET_METRICS,
    default_ladder,
    expected_running_time,
    fixed_target_table,
    parse_targets,
    performance_profile,
    value_at_budget,
)

from .report_data import synthetic_results


def _noise(seed: int) -> float:
    return 0.01 * np.sin(3.0 * seed + 1.0)


def _summary(report: Path) -> pd.DataFrame:
    return pd.read_csv(report.parent / "summary.csv").set_index("optimizer")


def test_an_optimizer_better_by_construction_is_marked_and_identical_ones_are_not_told_apart(tmp_path: Path) -> None:
    """good and twin give identical results on every seed; worse is 0.05 to 0.06 below them on every seed."""

    def quality(problem: str, optimizer: str, seed: int) -> float:
        base = 0.9 + _noise(seed)
        return base - 0.05 - 0.001 * seed if optimizer == "worse" else base

    results = synthetic_results(tmp_path, ["P"], ["good", "twin", "worse"], range(8), quality)
    report = build_report(results, tmp_path / "report", formats=("markdown", "html"))
    summary = _summary(report)
    assert summary.loc[["good", "twin"], "not_worse"].tolist() == [True, True]
    assert summary.loc["worse", "not_worse"] == False  # noqa: E712 (a stored bool, not a truth test)
    markdown = (report.parent / "report.md").read_text()
    for label in ("good", "twin"):
        assert [line for line in markdown.splitlines() if line.startswith(f"| **\\*** | **{label}** |")]
    assert [line for line in markdown.splitlines() if line.startswith("|  | worse |")]
    assert "Too few seeds" not in markdown
    page = report.read_text()
    assert page.count('<tr class="best">') == 2
    assert "Pairwise two-sided Wilcoxon" in page


def test_with_three_seeds_the_report_says_no_test_can_be_significant_and_marks_nothing(tmp_path: Path) -> None:
    results = synthetic_results(
        tmp_path, ["P"], ["good", "worse"], range(3), lambda p, o, s: 0.9 if o == "good" else 0.5 + 0.01 * s
    )
    report = build_report(results, tmp_path / "report", formats=("html",))
    page = report.read_text()
    assert "Too few seeds" in page and "smallest two-sided Wilcoxon p-value is 0.25" in page
    assert "At least 6 seeds are needed" in page
    assert _summary(report)["not_worse"].isna().all()
    assert 'class="best"' not in page


def test_bootstrap_interval_covers_the_true_mean_at_about_its_nominal_rate() -> None:
    rng = np.random.default_rng(12345)
    covered = []
    for i in range(300):
        sample = rng.normal(0.8, 0.05, size=15)
        low, high = bootstrap_ci(sample, seed=i)
        covered.append(low <= 0.8 <= high)
    assert 0.88 <= np.mean(covered) <= 0.985, np.mean(covered)


def test_bootstrap_edge_cases_one_seed_and_equal_values() -> None:
    assert all(math.isnan(v) for v in bootstrap_ci([0.5]))
    assert bootstrap_ci([0.5, 0.5, 0.5]) == (0.5, 0.5)
    low, high = stratified_ci([[0.5], [0.7, 0.8, 0.9]])
    assert low < (0.5 + 0.8) / 2 < high
    assert stratified_ci([[0.5], [0.7]]) == (0.6, 0.6)


def test_holm_matches_a_hand_computation() -> None:
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.5, np.nan, 0.001]), [0.5, np.nan, 0.002])


def test_differences_of_floating_point_noise_are_ties_not_evidence() -> None:
    same = np.full(8, 0.93)
    noisy = np.full(8, 0.95) - 0.02  # 0.9299999999999999: the same accuracy, reached by other arithmetic
    assert not np.array_equal(same, noisy)
    assert paired_wilcoxon(same, noisy) == 1.0
    assert paired_wilcoxon(same, noisy - 0.001) < 0.01


def test_seeds_needed_follows_the_smallest_exact_wilcoxon_p() -> None:
    assert seeds_needed(1) == 6  # 2 / 2**5 = 0.031 < 0.05, 2 / 2**4 = 0.0625 is not
    assert seeds_needed(11) == 9  # 11 * 2 / 2**9 = 0.043 with 9 seeds; 11 * 2 / 2**8 = 0.086 with 8


def _run(run_id: str, values: list[float], evaluations: list[int], optimizer: str = "o") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": run_id,
            "optimizer_label": optimizer,
            "checkpoint": range(len(values)),
            "val_accuracy": values,
            "best_train_loss": np.nan,
            "evaluations": evaluations,
            "samples": [10 * e for e in evaluations],
            "seconds": [e / 100 for e in evaluations],
        }
    )


def test_expected_running_time_equals_a_hand_computation() -> None:
    """Target 0.8: run a reaches it at 300 evaluations (of 1,000), b at 600 (of 1,000), c never (800 used).
    ERT = (300 + 600 + 800) / 2 = 850 evaluations; success rate 2/3."""
    runs = pd.concat(
        [
            _run("a", [0.1, 0.5, 0.85, 0.9], [0, 100, 300, 1000]),
            _run("b", [0.1, 0.6, 0.8, 0.95], [0, 200, 600, 1000]),
            _run("c", [0.1, 0.5, 0.7], [0, 400, 800]),
        ]
    )
    table = fixed_target_table(runs, {"val_accuracy": [0.8, 0.99]}).set_index("target")
    assert table.loc[0.8, "ert_evaluations"] == pytest.approx(850)
    assert table.loc[0.8, "ert_samples"] == pytest.approx(8500)
    assert table.loc[0.8, "ert_seconds"] == pytest.approx(8.5)
    assert table.loc[0.8, "success_rate"] == pytest.approx(2 / 3)
    assert math.isinf(table.loc[0.99, "ert_evaluations"]) and table.loc[0.99, "successes"] == 0
    assert expected_running_time([None, None], [5.0, 6.0]) == math.inf


def test_ert_in_seconds_is_rescaled_by_each_runs_speed_probe() -> None:
    """The runs above with GEMM probes 100, 50 and 75 GFLOP/s (median 75): a's 3 s count 4 s, b's
    6 s count 4 s, c's 8 s stay 8 s; ERT = (4 + 4 + 8) / 2 = 8 s. Without a probe: not known."""
    runs = pd.concat(
        [
            _run("a", [0.1, 0.5, 0.85, 0.9], [0, 100, 300, 1000]).assign(probe_gflops=100.0),
            _run("b", [0.1, 0.6, 0.8, 0.95], [0, 200, 600, 1000]).assign(probe_gflops=50.0),
            _run("c", [0.1, 0.5, 0.7], [0, 400, 800]).assign(probe_gflops=75.0),
        ]
    )
    table = fixed_target_table(runs, {"val_accuracy": [0.8]}).set_index("target")
    assert table.loc[0.8, "ert_seconds"] == pytest.approx(8.5)
    assert table.loc[0.8, "ert_seconds_normalised"] == pytest.approx(8.0)
    unprobed = fixed_target_table(runs.drop(columns="probe_gflops"), {"val_accuracy": [0.8]})
    assert unprobed["ert_seconds_normalised"].isna().all()


def test_default_ladder_ends_at_the_best_value_reached() -> None:
    runs = pd.concat([_run("a", [0.1, 0.5, 0.9], [0, 10, 20]), _run("b", [0.3, 0.6, 0.7], [0, 10, 20])])
    ladder = default_ladder(runs, TARGET_METRICS["val_accuracy"])
    assert ladder[0] == pytest.approx(0.2 + 0.5 * (0.9 - 0.2)) and ladder[-1] == pytest.approx(0.9)
    assert ladder == sorted(ladder)


def test_value_at_a_fraction_of_the_budget_takes_the_last_checkpoint_within_it() -> None:
    run = _run("a", [0.1, 0.2, 0.3, 0.4], [0, 100, 500, 1000]).assign(
        budget_evaluations=1000.0, budget_samples=np.nan, budget_seconds=np.nan
    )
    assert [value_at_budget(run, "val_accuracy", f) for f in (0.1, 0.5, 1.0, 0.05)] == [0.2, 0.3, 0.4, 0.1]


def test_performance_profile_counts_problems_within_a_factor_of_the_best() -> None:
    costs = pd.DataFrame({"A": [1.0, 4.0, 3.0], "B": [2.0, 2.0, math.inf]})
    profile = performance_profile(costs, np.array([1.0, 2.0, 10.0]))
    np.testing.assert_allclose(profile["A"], [2 / 3, 1.0, 1.0])  # ratios 1, 2, 1
    np.testing.assert_allclose(profile["B"], [1 / 3, 2 / 3, 2 / 3])


def test_friedman_and_critical_difference_across_problems_match_the_textbook_values(tmp_path: Path) -> None:
    """Four problems, three optimizers always in the same order: mean ranks 1, 2, 3, so
    χ² = 12N/(k(k+1)) Σ R² − 3N(k+1) = 8, p = exp(−4); Nemenyi CD = 2.343 √(k(k+1)/6N) = 1.657."""
    order = {"a": 0.9, "b": 0.8, "c": 0.7}
    results = synthetic_results(tmp_path, ["P1", "P2", "P3", "P4"], list(order), range(2), lambda p, o, s: order[o] + 0.001 * s)
    report = build_report(results, tmp_path / "report", formats=("html",))
    text = report.read_text()
    assert f"χ² = 8.00, p = {math.exp(-4):.3g}" in text
    assert "Critical difference (Nemenyi, α = 0.05): 1.66" in text
    assert stats.studentized_range.ppf(0.95, 3, np.inf) / math.sqrt(2) == pytest.approx(2.343, abs=1e-3)
    assert 'alt="Critical-difference diagram" src="data:image/png;base64,' in text
    assert "plot-performance-profile" in text


def test_targets_option_is_parsed_and_checked() -> None:
    assert parse_targets(["val_accuracy=0.9,0.8", "train_loss=0.1,1"]) == {"val_accuracy": [0.8, 0.9], "train_loss": [1.0, 0.1]}
    for bad in ["accuracy=0.9", "val_accuracy", "val_accuracy=x", "train_loss=", "val_accuracy=nan"]:
        with pytest.raises(ValueError):
            parse_targets([bad])


def test_runtime_ecdf_counts_run_target_pairs_and_runs_flat_to_the_end() -> None:
    """Runs a and b against targets 0.5 and 0.8: a reaches 0.5 at 100 and 0.8 at 300, b reaches 0.5
    at 200 and never 0.8: fractions 1/4, 2/4, 3/4, then flat to the last evaluation used (1,000)."""
    from dfo_bench.report.targets import runtime_ecdf

    runs = pd.concat([_run("a", [0.1, 0.5, 0.85, 0.9], [0, 100, 300, 1000]), _run("b", [0.1, 0.6, 0.7], [0, 200, 800])])
    ecdf = runtime_ecdf(runs, TARGET_METRICS["val_accuracy"], [0.5, 0.8], "evaluations")["o"]
    np.testing.assert_allclose(ecdf.x, [100, 200, 300, 1000])
    np.testing.assert_allclose(ecdf.fraction, [0.25, 0.5, 0.75, 0.75])
