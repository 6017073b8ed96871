"""The report on awkward inputs and through the command line: several folders, selections, one
seed, one optimizer, unequal lengths, only failures; published numbers; LaTeX; atomic files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from dfo_bench.errors import ConfigError
from dfo_bench.report import build_report, load_runs
from dfo_bench.report.analysis import analyse_problem
from dfo_bench.report.figures import optimizer_styles
from dfo_bench.suite import load_suite

from .conftest import CLI, cli_env
from .report_data import specs, synthetic_results, trace, write_run

ALL = ("markdown", "html", "latex")


def dfo_bench(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=cli_env())


def test_two_folders_merge_a_shared_run_is_kept_once_and_selection_applies(tmp_path: Path) -> None:
    first = synthetic_results(tmp_path, ["P", "Q"], ["a", "b"], [0, 1], lambda p, o, s: 0.8, name="first")
    second = tmp_path / "second"
    shutil.copytree(first / "runs", second / "runs")
    for spec in specs(tmp_path, ["P"], ["c"], [0, 1]):
        write_run(second, spec, trace(0.7))
    out = tmp_path / "report"
    done = dfo_bench("report", first, second, "--out", out, "--problems", "P", "--optimizers", "a,c", "--format", "html")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("also in an earlier folder") == 1 and "8 run(s)" in done.stderr
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(summary["optimizer"]) == ["a", "c"] and set(summary["problem"]) == {"P"}
    assert summary["seeds_ok"].tolist() == [2, 2]
    assert "first copy is kept" in (out / "report.html").read_text()


def test_a_selection_that_matches_nothing_is_one_line_and_exit_2(tmp_path: Path) -> None:
    results = synthetic_results(tmp_path, ["P"], ["a"], [0], lambda p, o, s: 0.8)
    for option, value in (("--optimizers", "zz*"), ("--targets", "val_accuracy=x")):
        done = dfo_bench("report", results, "--out", tmp_path / "r", option, value)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and option in done.stderr, done.stderr
    assert not (tmp_path / "r").exists()
    with pytest.raises(ConfigError, match="--problems: Q: no such label in the results; allowed: P"):
        load_runs(results, problems=["Q"])


@pytest.mark.parametrize("case", ["one seed", "one optimizer", "unequal lengths", "only failures", "test function"])
def test_awkward_results_still_give_every_output(tmp_path: Path, case: str) -> None:
    root = tmp_path / "results"
    seeds = [0] if case == "one seed" else [0, 1, 2]
    optimizers = ["a"] if case == "one optimizer" else ["a", "b"]
    for i, spec in enumerate(specs(tmp_path, ["P"], optimizers, seeds)):
        rows = trace(0.6 + 0.1 * (spec.optimizer.label == "a"))
        if case == "unequal lengths":
            rows = rows[: 6 + 3 * i]  # runs stopped at different evaluations
        if case == "test function":
            rows = [{k: v for k, v in row.items() if "accuracy" not in k and "f1" not in k} for row in rows]
        failed = case == "only failures" and spec.optimizer.label == "b"
        write_run(root, spec, rows[:2] if failed else rows, error="RuntimeError: boom" if failed else None)
    formats = ALL if case == "unequal lengths" else ("html", "latex")  # figures for papers take time: drawn once
    index = build_report(root, tmp_path / "report", formats=formats)
    out = index.parent
    expected = {"report.html", "report.tex", "summary.csv", "fixed_target.csv"} | ({"report.md"} if "markdown" in formats else set())
    assert expected <= {p.name for p in out.iterdir()}
    text = index.read_text()
    assert ">P</h2>" in text and '">a</td>' in text
    if case == "only failures":
        assert "RuntimeError: boom" in text and "0 / 3" in text
    if case in ("one seed", "one optimizer"):
        assert "Too few seeds" in text or "One optimizer" in text
    if case == "test function":
        main = text.split("<h3>Fixed target</h3>")[0]
        assert "test loss mean [95% CI]" in main and "test accuracy" not in main.split(">P</h2>")[1]


def test_published_numbers_appear_beside_ours_marked_as_not_re_run(tmp_path: Path) -> None:
    root = tmp_path / "results"
    for spec in specs(tmp_path, ["mnist"], ["direct-search"], [0, 1]):
        write_run(root, spec, trace(0.9), problem="mnist-mlp")
    index = build_report(root, tmp_path / "report", formats=ALL)
    markdown = (index.parent / "report.md").read_text()
    rows = [line for line in markdown.splitlines() if line.startswith("| _published_")]
    assert len(rows) == 2
    mdp = next(r for r in rows if "MDP (MDP post" in r)
    assert "_0.9340_" in mdp and "_0.9370_" in mdp and "_0.0004083_" in mdp and "_not re-run_" in mdp
    adam = next(r for r in rows if "Adam (MDP post" in r)
    assert "_0.9170_" in adam and "_0.9180_" in adam and "_0.002945_" in adam
    assert "best run, not a mean over seeds" in markdown
    page = index.read_text()
    assert page.count("published, not re-run: MDP 0.934") == 3  # test accuracy against 3 x axes
    assert page.count("published, not re-run: Adam 0.002945") == 3  # best training loss against 3 x axes
    assert r"\textit{published}" in (index.parent / "report.tex").read_text()


def test_hbde_numbers_are_shipped_for_the_cifar_problems() -> None:
    from dfo_bench.report.references import references_for

    assert references_for("cifar10-resnet18")[["metric", "value"]].values.tolist() == [["test_f1", 0.8183]]
    assert references_for("cifar100-resnet18")[["metric", "value"]].values.tolist() == [["test_f1", 0.533]]
    assert references_for("digits-mlp").empty


def _return_trace(final: float, steps: int = 20_000) -> list[dict[str, float]]:
    """A control run's checkpoints at 0, 1,000, ..., 20,000 steps, its returns rising linearly to ``final``."""
    rows = []
    for i in range(21):
        spent, value = steps * i // 20, final * i / 20
        row = {"evaluations": spent // 1000, "samples": spent, "steps": spent, "episodes": spent // 1000, "seconds": spent / 1e4}
        row["best_seen_loss"] = -value
        for split in ("train", "val", "test"):
            row |= {f"{split}_loss": -value, f"{split}_return": value}
        rows.append(row)
    return rows


def test_published_targets_join_the_fixed_target_view_of_their_environment_only(write_suite, tmp_path: Path) -> None:
    """ARS's Swimmer threshold (325, references.csv) becomes a target of a Swimmer problem's fixed-target
    view, with the runs that reached it; a CartPole problem gets none."""
    suite = write_suite(
        {
            "name": "targets",
            "problems": [
                {"name": "rl", "label": "swimmer", "params": {"env": "Swimmer-v5"}},
                {"name": "rl", "label": "cartpole", "params": {"env": "CartPole-v1"}},
            ],
            "optimizers": ["ars"],
            "seeds": [0, 1],
            "budget": {"steps": 20_000},
        }
    )
    root = tmp_path / "results"
    for spec in load_suite(suite).runs:
        write_run(root, spec, _return_trace(400.0 if spec.seed == 0 else 200.0))  # seed 0 passes 325 at 17,000 steps
    runs = load_runs(root).runs
    styles = optimizer_styles(runs["optimizer_label"])
    analyses = {label: analyse_problem(label, part, styles, {}) for label, part in runs.groupby("problem_label")}
    swimmer, cartpole = analyses["swimmer"], analyses["cartpole"]
    assert 325.0 in swimmer.targets["val_return"] and 325.0 not in cartpole.targets.get("val_return", [])
    assert swimmer.targets["val_return"] == sorted(swimmer.targets["val_return"])
    row = swimmer.fixed_target[(swimmer.fixed_target["metric"] == "val_return") & (swimmer.fixed_target["target"] == 325.0)]
    assert row[["successes", "runs", "ert_samples"]].values.tolist() == [[1, 2, 37_000.0]]
    assert "Published targets added: val_return = 325 (ARS (Mania et al. 2018), Table 1" in swimmer.targets_note
    assert "Published targets" not in cartpole.targets_note and swimmer.references.empty
    index = build_report(root, tmp_path / "report", formats=("markdown",))
    assert "val_return = 325 (ARS (Mania et al. 2018)" in (index.parent / "report.md").read_text()


def test_latex_is_a_booktabs_table_with_the_best_in_bold(tmp_path: Path) -> None:
    results = synthetic_results(
        tmp_path, ["P_1"], ["good", "bad_50%"], range(8), lambda p, o, s: 0.9 - 0.1 * (o != "good") + 0.001 * s
    )
    done = dfo_bench("report", results, "--out", tmp_path / "r", "--format", "latex")
    assert done.returncode == 0, done.stderr
    tex = (tmp_path / "r" / "report.tex").read_text()
    main = next(t for t in tex.split(r"\begin{table}") if r"\caption{P\_1: final metrics. Budget per run" in t)
    table = main[main.index(r"\toprule") : main.index(r"\bottomrule")]
    rows = [line for line in table.splitlines() if line.endswith(r"\\")]
    assert len({row.count(" & ") for row in rows}) == 1 and len(rows) == 3
    assert r"\textbf{good}" in tex and r"bad\_50\%" in tex and r"\textbf{bad" not in tex
    assert r"\begin{tabular}" in tex and r"\midrule" in tex and r"P\_1" in tex


def test_a_failing_write_leaves_the_previous_report_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = synthetic_results(tmp_path, ["P"], ["a", "b"], [0, 1], lambda p, o, s: 0.8)
    index = build_report(results, tmp_path / "report", formats=("html",))
    before = {p.name: p.read_bytes() for p in index.parent.iterdir()}

    def crash(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("dfo_bench.atomic.os.fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        build_report(results, tmp_path / "report", formats=("html",))
    assert {p.name: p.read_bytes() for p in index.parent.iterdir()} == before


def test_twenty_optimizers_get_twenty_distinct_styles_that_stay_the_same_in_every_figure() -> None:
    from dfo_bench.report.figures import optimizer_styles

    labels = [f"optimizer-{i:02d}" for i in range(20)]
    styles = optimizer_styles(labels)
    assert len({(s.color, s.dash) for s in styles.values()}) == 20
    assert optimizer_styles(reversed(labels)) == styles


def test_label_lists_split_on_commas_outside_brackets() -> None:
    from dfo_bench.cli import split_labels

    given = ("de[popsize=64,strategy=best1bin],adam", "cma-es*")
    assert split_labels(given) == ["de[popsize=64,strategy=best1bin]", "adam", "cma-es*"]
