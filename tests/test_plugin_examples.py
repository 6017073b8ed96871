"""The docs' two example plugins (docs/examples: an optimizer and a problem, written as
docs/extending.md tells a user to) installed beside dfo-bench in a fresh virtual environment, as a
user installs them: they are listed, pass their own conformance tests, run in their suite and
appear in the report.

The environment is made on top of this interpreter's (``--system-site-packages`` plus a path
file naming this environment's site-packages), so torch and the rest are not installed again; pip
installs this checkout of dfo-bench and the two examples without dependencies, offline.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

EXAMPLES = REPO / "docs" / "examples"
PLUGINS = ("one-plus-one-es", "diabetes-mlp")


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment (``env``) with dfo-bench (this checkout) and both example packages
    installed from their copies in ``sources``."""
    root = tmp_path_factory.mktemp("venv")
    env = root / "env"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # This environment's packages (torch, pip, ...) without its path hooks (an editable dfo-bench).
    Path(site, "_parent_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    sources = root / "sources"  # copies, so that building leaves nothing in the checkout
    shutil.copytree(REPO / "dfo_bench", sources / "dfo-bench" / "dfo_bench", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, sources / "dfo-bench" / name)
    for plugin in PLUGINS:
        shutil.copytree(EXAMPLES / plugin, sources / plugin, ignore=shutil.ignore_patterns("__pycache__", "results", "reports"))
    pip = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    installed = subprocess.run([*pip, *(str(sources / name) for name in ("dfo-bench", *PLUGINS))], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    return root


def in_venv(env: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    clean["PATH"] = f"{env / 'bin'}{os.pathsep}{clean.get('PATH', '')}"
    clean["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(list(args), capture_output=True, text=True, env=clean, cwd=cwd)


def test_example_plugins_are_listed_pass_the_kit_run_and_reach_the_report(venv: Path, tmp_path: Path) -> None:
    sources, venv = venv / "sources", venv / "env"
    listed = in_venv(venv, "dfo-bench", "list", "--origin", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines() if line.startswith("  ")}
    assert "1/5th success rule" in lines["one-plus-one-es"] and "dfo-bench-one-plus-one-es" in lines["one-plus-one-es"]
    assert "diabetes" in lines["diabetes-mlp"] and "dfo-bench-diabetes-mlp" in lines["diabetes-mlp"]
    where = in_venv(venv, "python", "-c", "import dfo_bench; print(dfo_bench.__file__)", cwd=tmp_path)
    assert str(venv) in where.stdout, f"dfo-bench imported from outside the environment: {where.stdout}"

    for plugin in PLUGINS:  # each package's own conformance tests, subclassing the kit
        tested = in_venv(
            venv, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", str(sources / plugin / "tests"), cwd=tmp_path
        )
        assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-2000:]
        assert " passed" in tested.stdout and "failed" not in tested.stdout

    suite = yaml.safe_load((EXAMPLES / "diabetes-mlp" / "suite.yaml").read_text())
    suite |= {"seeds": [0, 1], "budget": {"evaluations": 300}}  # the documented suite at a tiny budget
    suite_file = tmp_path / "diabetes-mlp.yaml"
    suite_file.write_text(yaml.safe_dump(suite))
    ran = in_venv(venv, "dfo-bench", "run", str(suite_file), "--out", "results", "--quiet", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "6 ok, 0 failed" in ran.stdout.splitlines()[-1]

    shown = in_venv(venv, "dfo-bench", "report", "results", "--out", "report", "--format", "markdown", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    report = (tmp_path / "report" / "report.md").read_text()
    assert "test R² mean [95% CI]" in report and "val R² mean [95% CI]" in report and "val MSE mean [95% CI]" in report
    assert "one-plus-one-es" in report and "validation R²" in report
    targets = in_venv(
        venv,
        "dfo-bench",
        "report",
        "results",
        "--out",
        "fixed",
        "--format",
        "markdown",
        "--targets",
        "val_r2=0,0.3",
        cwd=tmp_path,
    )
    assert targets.returncode == 0, targets.stderr
    assert "ERT in samples to each validation R² target" in (tmp_path / "fixed" / "report.md").read_text()


def test_the_code_on_the_extending_page_is_the_example_packages_code() -> None:
    """Each code block of docs/extending.md that opens with ``# docs/examples/<file>`` is that file's text."""
    page = (REPO / "docs" / "extending.md").read_text()
    blocks = re.findall(r"```(?:python|yaml)\n# (docs/examples/\S+)\n(.*?)```", page, flags=re.S)
    assert len(blocks) >= 5
    for path, code in blocks:
        assert code in (REPO / path).read_text(), f"docs/extending.md shows code that is not in {path}"
