"""Suites from a user's side: what a good suite expands into (bad input: test_bad_input.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfo_bench.registry import optimizers
from dfo_bench.suite import load_suite
from dfo_bench.testing import searching
from tests.conftest import GOOD, REPO, fake_cifar_root, fake_mnist, with_changes


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
    assert len(suite.config.seeds) >= 3 and ({r.problem.name for r in suite.runs} or suite.studies)
    if path.stem in COMPREHENSIVE:
        built_in = {name for name, _, origin in optimizers.describe() if origin == "built-in"} & set(searching("weights"))
        many = {name for name in built_in if optimizers.get(name).objectives != 1}  # compared in mo-*.yaml
        assert built_in - many <= {r.optimizer.name for r in suite.runs}, f"{path.name} runs every built-in optimizer of weights"
    if path.stem == "mo-precision-recall":
        built_in = {name for name, _, origin in optimizers.describe() if origin == "built-in"} & set(searching("weights"))
        many = {name for name in built_in if optimizers.get(name).objectives != 1}
        assert many <= {r.optimizer.name for r in suite.runs}, f"{path.name} runs every multi-objective optimizer"


COMPREHENSIVE = {"quickstart", "mnist"}
"""Suites that compare every built-in optimizer of weights (the others reproduce one published
protocol; those of typed spaces meet in the hpo suites)."""
