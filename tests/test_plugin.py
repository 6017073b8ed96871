"""Plugins through real entry points: a tiny package is built and pip-installed for the test.

The package registers an optimizer, a problem, an optimizer that produces NaN (its runs must
be stored as failed while the suite goes on), and an entry point that cannot be imported (it
must show as FAILED in ``list`` and break nothing else).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from dfo_bench.store import ResultStore
from tests.conftest import CLI, REPO

PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "dfo-bench-demo-plugin"
version = "0.1"

[project.entry-points."dfo_bench.optimizers"]
plugin-es = "demo_plugin:PluginES"
nan-search = "demo_plugin:NaNSearch"
broken = "demo_plugin.missing:Nothing"
raising = "demo_plugin.raising:Nothing"

[project.entry-points."dfo_bench.problems"]
blobs-mlp = "demo_plugin:BlobsMLP"
"""

MODULE = '''
"""A third-party package's optimizers and problem, written against dfo-bench's public interfaces."""
import torch
from pydantic import Field

from dfo_bench.optimizers.base import AskTellOptimizer
from dfo_bench.params import ParamsModel
from dfo_bench.problems.data import ClassificationData, Split
from dfo_bench.problems.mlp import MLPClassification


class ESParams(ParamsModel):
    popsize: int = Field(16, ge=2)
    sigma: float = Field(0.02, gt=0)


class PluginES(AskTellOptimizer):
    """(1, lambda) evolution strategy around the best of the last generation."""

    name = "plugin-es"
    description = "demo plugin: (1, lambda) evolution strategy"
    Params = ESParams

    def __init__(self, x0, rng, params):
        super().__init__(x0, rng, params)
        self.mean = self.x0.clone()

    @property
    def popsize(self):
        return self.params.popsize

    def _ask(self, n):
        noise = torch.randn(n, self.mean.numel(), generator=self.torch_generator())
        return self.mean + self.params.sigma * noise

    def _tell(self, X, losses):
        self.mean = X[int(losses.argmin())].clone()

    def recommend(self):
        return self.mean.clone()


class NaNSearch(PluginES):
    name = "nan-search"
    description = "demo plugin: proposes NaN weights after a few generations"

    def _ask(self, n):
        X = super()._ask(n)
        self.generation = getattr(self, "generation", 0) + 1
        return X * float("nan") if self.generation > 3 else X


class BlobsMLP(MLPClassification):
    name = "blobs-mlp"
    description = "demo plugin: 8-16-3 MLP on Gaussian blobs"

    def load_data(self):
        g = torch.Generator().manual_seed(self.seed)
        centres = 2 * torch.randn(3, 8, generator=g)

        def split(n):
            y = torch.randint(3, (n,), generator=g)
            return Split(centres[y] + torch.randn(n, 8, generator=g), y)

        return ClassificationData(split(300), split(100), split(100), n_classes=3)
'''


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """PYTHONPATH under which the demo plugin is installed (with its dist-info and entry points)."""
    root = tmp_path_factory.mktemp("plugin")
    source, target = root / "src", root / "site"
    (source / "demo_plugin").mkdir(parents=True)
    (source / "pyproject.toml").write_text(PYPROJECT)
    (source / "demo_plugin" / "__init__.py").write_text(textwrap.dedent(MODULE))
    (source / "demo_plugin" / "raising.py").write_text(
        '"""Fails on import, at line 3."""\n\nraise RuntimeError("no licence found")\n'
    )
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target"]
    subprocess.run([*pip, str(target), str(source)], check=True, capture_output=True)
    return f"{target}:{REPO}"


def dfo_bench(plugin_path: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=plugin_path)
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=REPO)


def test_plugins_appear_in_list_and_a_broken_one_breaks_nothing(plugin_path: str) -> None:
    listed = dfo_bench(plugin_path, "list", "--origin")
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines() if line.startswith("  ")}
    assert "(1, lambda) evolution strategy" in lines["plugin-es"] and "dfo-bench-demo-plugin" in lines["plugin-es"]
    assert "Gaussian blobs" in lines["blobs-mlp"]
    assert "FAILED" in lines["broken"] and "demo_plugin.missing" in lines["broken"]
    assert {"adam", "de", "cma-es", "random-search", "digits-mlp", "mnist-mlp"} <= set(lines)


def test_plugins_run_in_a_suite_and_a_failing_run_does_not_stop_it(plugin_path: str, tmp_path: Path) -> None:
    suite = {
        "problems": ["digits-mlp", "blobs-mlp"],
        "optimizers": ["plugin-es", "nan-search", "random-search"],
        "seeds": [0, 1],
        "budget": {"evaluations": 400},
        "executor": "sequential",
    }
    suite_file = tmp_path / "plugins.yaml"
    suite_file.write_text(yaml.safe_dump(suite))
    ran = dfo_bench(plugin_path, "run", str(suite_file), "--out", str(tmp_path / "results"), "--quiet")
    assert ran.returncode == 1, ran.stderr  # runs of it failed
    last = ran.stdout.splitlines()[-1]
    assert f"8 ok, 4 failed (errors above; dfo-bench status {tmp_path / 'results'} lists them; --retry-failed" in last, last
    assert ran.stderr.count("failed: ") == 4 and "Traceback" not in ran.stderr
    shown = dfo_bench(plugin_path, "status", str(tmp_path / "results"))
    listed = [line for line in shown.stdout.splitlines() if line.startswith("failed: ")]
    assert len(listed) == 4 and all("nan-search" in line and "FloatingPointError" in line for line in listed), shown.stdout
    runs = ResultStore(tmp_path / "results").load()
    finals = runs.groupby("run_id").tail(1)
    failed = finals[finals["status"] == "failed"]
    assert set(failed["optimizer"]) == {"nan-search"}
    assert failed["error"].str.contains("FloatingPointError").all()
    ok = runs[runs["status"] == "ok"].groupby("run_id")["train_loss"]
    assert (ok.last() < ok.first()).all(), "every successful run improved on its initial point"
    report = dfo_bench(plugin_path, "report", str(tmp_path / "results"), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    assert "plugin-es" in (tmp_path / "report" / "report.md").read_text()


def test_suite_naming_the_broken_plugin_says_which_entry_point(plugin_path: str, tmp_path: Path) -> None:
    suite_file = tmp_path / "broken.yaml"
    suite = {"problems": ["digits-mlp"], "optimizers": ["broken"], "seeds": [0], "budget": {"evaluations": 10}}
    suite_file.write_text(yaml.safe_dump(suite))
    ran = dfo_bench(plugin_path, "run", str(suite_file), "--out", str(tmp_path / "results"))
    assert ran.returncode == 2
    assert ran.stderr.count("\n") == 1 and "optimizers[0].name" in ran.stderr
    assert "broken = demo_plugin.missing:Nothing" in ran.stderr and "ModuleNotFoundError" in ran.stderr
    assert not (tmp_path / "results").exists()


def test_a_plugin_that_fails_to_import_names_its_file_and_line_and_shows_its_traceback_on_request(
    plugin_path: str, tmp_path: Path
) -> None:
    listed = dfo_bench(plugin_path, "list", "optimizers")
    lines = {line.split()[0]: line for line in listed.stdout.splitlines() if line.startswith("  ")}
    assert "RuntimeError: no licence found (in demo_plugin.raising, at " in lines["raising"]
    assert "demo_plugin/raising.py:3" in lines["raising"] and "--traceback" in lines["raising"]
    assert "(in demo_plugin.missing; whole traceback: dfo-bench list --traceback" in lines["broken"]
    assert "Traceback" not in listed.stderr
    shown = dfo_bench(plugin_path, "list", "optimizers", "--traceback")
    assert "Traceback (most recent call last)" in shown.stderr and 'raise RuntimeError("no licence found")' in shown.stderr
    suite_file = tmp_path / "raising.yaml"
    suite = {"problems": ["digits-mlp"], "optimizers": ["raising"], "seeds": [0], "budget": {"evaluations": 10}}
    suite_file.write_text(yaml.safe_dump(suite))
    ran = dfo_bench(plugin_path, "run", str(suite_file), "--out", str(tmp_path / "results"), "--traceback")
    assert ran.returncode == 2 and ran.stderr.startswith("error: ") and "raising.py:3" in ran.stderr.splitlines()[0]
    assert "Traceback (most recent call last)" in ran.stderr and not (tmp_path / "results").exists()
