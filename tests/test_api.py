"""The Python API: suites from dicts, typed objects and files resolve to the same runs; the worked
example (docs/examples/notebook.py) runs as a user would run it."""

from __future__ import annotations

import runpy
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from dfo_bench import api
from dfo_bench.errors import ConfigError
from tests.conftest import REPO

SUITE = {
    "name": "api-demo",
    "problems": [{"name": "sphere", "params": {"dim": 8}}],
    "optimizers": ["random-search", {"name": "de", "params": {"popsize": 8}}],
    "seeds": [0, 1],
    "budget": {"evaluations": 200},
    "executor": "sequential",
}


def test_a_dict_a_suite_config_and_a_file_give_the_same_runs(tmp_path: Path) -> None:
    path = tmp_path / "api-demo.yaml"
    path.write_text(yaml.safe_dump(SUITE))
    typed = api.SuiteConfig(**SUITE)
    ids = [[spec.run_id for spec in api.suite(given).runs] for given in (SUITE, typed, path, str(path))]
    assert ids[0] == ids[1] == ids[2] == ids[3] and len(ids[0]) == 4


def test_a_bad_dict_is_refused_in_one_line_naming_the_field() -> None:
    bad = SUITE | {"optimizers": [{"name": "de", "params": {"popsize": 1}}]}
    with pytest.raises(ConfigError, match=r"^<suite>: optimizers\[0\]\.params\.popsize: .*allowed") as caught:
        api.suite(bad)
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="name"):
        api.suite({k: v for k, v in SUITE.items() if k != "name"})


def test_run_resumes_and_results_are_one_row_per_run_and_checkpoint(tmp_path: Path) -> None:
    suite = api.suite(SUITE)
    said: list[tuple[str, bool]] = []
    first = api.run(suite, tmp_path / "results", progress=False, say=lambda line, err: said.append((line, err)))
    assert first.ok == 4 and not first.failed and "4 to run" in said[0][0]
    with ThreadPoolExecutor(1) as pool:  # from a thread other than the main one too (no signal handlers there)
        future = pool.submit(api.run, suite, tmp_path / "results", progress=False, say=lambda line, err: said.append((line, err)))
        again = future.result()
    assert again.summaries == [] and "4 already stored, 0 to run" in said[-1][0]
    frame = api.results(tmp_path / "results")
    assert frame.groupby("run_id")["checkpoint"].apply(lambda c: list(c) == list(range(len(c)))).all()
    assert set(frame["run_id"]) == {spec.run_id for spec in suite.runs}
    assert not frame.duplicated(["run_id", "checkpoint"]).any()
    with pytest.raises(TypeError, match="no_such_option"):
        api.run(suite, tmp_path / "results", no_such_option=1)


def test_the_worked_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(REPO / "docs" / "examples" / "notebook.py"), run_name="__main__")
    assert (tmp_path / "reports" / "notebook-demo" / "report.md").is_file()
    assert len(list((tmp_path / "results" / "notebook-demo" / "runs").glob("*.parquet"))) == 12
