"""Suites from a user's side: what a good suite expands into, and what bad input gets back."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dfo_bench.errors import ConfigError
from dfo_bench.registry import optimizers
from dfo_bench.suite import load_suite
from tests.conftest import CLI, REPO, cli_env, fake_cifar_root, fake_mnist

GOOD: dict[str, Any] = {
    "name": "good",
    "problems": ["digits-mlp"],
    "optimizers": ["random-search", {"name": "de", "params": {"F": 0.8}}],
    "seeds": [0, 1, 2],
    "budget": {"evaluations": 100},
}


def with_changes(**changes: Any) -> dict[str, Any]:
    suite = {**GOOD, **changes}
    return {k: v for k, v in suite.items() if v is not None}


def test_suite_expands_into_problem_x_optimizer_x_seed_runs(write_suite) -> None:
    suite = load_suite(write_suite(GOOD))
    assert len(suite.runs) == 1 * 2 * 3
    assert [r.optimizer.label for r in suite.runs[:4]] == ["random-search"] * 3 + ["de[F=0.8]"]
    assert suite.runs[3].optimizer.params.F == 0.8 and suite.runs[3].optimizer.params.CR == 0.9
    assert len({r.run_id for r in suite.runs}) == 6
    assert suite.runs[0].checkpoints >= 20


def test_run_id_depends_on_configuration_not_on_suite_name(write_suite) -> None:
    a = load_suite(write_suite(GOOD, "a.yaml")).runs[0]
    b = load_suite(write_suite(with_changes(name="renamed"), "b.yaml")).runs[0]
    c = load_suite(write_suite(with_changes(budget={"evaluations": 101}), "c.yaml")).runs[0]
    assert a.run_id == b.run_id and a.run_id != c.run_id


@pytest.mark.parametrize("path", sorted((REPO / "suites").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_suites_are_valid(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mnist").mkdir()
    fake_mnist(tmp_path / "mnist", 10_000, "t10k")  # where suites find MNIST by default
    for archive in fake_cifar_root().glob("*.tar.gz"):  # and CIFAR
        (tmp_path / archive.name).symlink_to(archive)
    monkeypatch.setenv("DFO_BENCH_DATA", str(tmp_path))
    suite = load_suite(path)
    assert len(suite.config.seeds) >= 3 and {r.problem.name for r in suite.runs}
    if path.stem in COMPREHENSIVE:
        built_in = {name for name, _, origin in optimizers.describe() if origin == "built-in"}
        assert built_in <= {r.optimizer.name for r in suite.runs}, f"{path.name} runs every built-in optimizer"


COMPREHENSIVE = {"quickstart", "mnist"}
"""Suites that compare every built-in optimizer (the others reproduce one published protocol)."""


BAD = {
    # case: (suite content, words the one-line error must contain)
    "unknown optimizer": (with_changes(optimizers=["rando-search"]), ["optimizers[0].name", "did you mean 'random-search'"]),
    "unknown problem": (with_changes(problems=["digit-mlp"]), ["problems[0].name", "did you mean 'digits-mlp'"]),
    "mistyped parameter": (
        with_changes(optimizers=[{"name": "de", "params": {"f": 0.5}}]),
        ["optimizers[0].params.f", "allowed:", "F", "CR"],
    ),
    "wrong type": (
        with_changes(optimizers=[{"name": "de", "params": {"popsize": "many"}}]),
        ["optimizers[0].params.popsize", "'many'"],
    ),
    "empty seeds": (with_changes(seeds=[]), ["seeds", "at least 1"]),
    "no budget": (with_changes(budget={}), ["budget", "evaluations, samples, seconds"]),
    "missing budget": (with_changes(budget=None), ["budget", "required"]),
    "unknown top-level field": (with_changes(seed=[1]), ["seed", "not permitted"]),
    "too few checkpoints": (with_changes(checkpoints=5), ["checkpoints", "20"]),
    "bad device": (with_changes(device="tpu"), ["device", "'auto', 'cpu' or 'cuda'"]),
    "unreadable yaml": ("problems: [digits-mlp\nseeds: {", ["not valid YAML", "line"]),
    "not a mapping": ("- digits-mlp\n", ["a suite is a mapping"]),
    "missing data folder": (
        with_changes(problems=[{"name": "mnist-mlp", "params": {"root": "/nonexistent/mnist"}}]),
        ["problems[0].params", "/nonexistent/mnist", "download: true"],
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_suite_is_one_line_exit_2_and_nothing_written(case: str, write_suite, tmp_path: Path) -> None:
    content, words = BAD[case]
    path = write_suite(content if isinstance(content, str) else yaml.safe_dump(content))
    out = tmp_path / "results"
    cli = subprocess.run([*CLI, "run", str(path), "--out", str(out)], capture_output=True, text=True, env=cli_env())
    assert cli.returncode == 2, cli.stderr
    assert cli.stderr.count("\n") == 1 and cli.stderr.startswith(f"error: {path}: "), cli.stderr
    for word in words:
        assert word in cli.stderr, f"{word!r} not in {cli.stderr!r}"
    assert "Traceback" not in cli.stderr
    assert not out.exists()


def test_missing_suite_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=f"{missing}: cannot read"):
        load_suite(missing)


def test_repeated_labels_are_refused(write_suite) -> None:
    with pytest.raises(ConfigError, match="labels must be distinct"):
        load_suite(write_suite(with_changes(optimizers=["de", "de"])))
