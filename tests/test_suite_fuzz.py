"""Generated suites against the bad-input rule (tests/test_bad_input.py): whatever a suite file
holds, ``load_suite`` returns a valid suite, or refuses with a ``ConfigError`` of one line that
starts with the file's path; no other exception, and nothing written. A valid suite's labels,
run ids and name are safe file names.

The inputs: suites of the right shape with random values (names from the registries and not,
labels of any Unicode, parameters of any type, seeds, budgets), random text, random bytes, YAML
tokens in random order, and the small valid suite with random edits. Derandomized, so every run
tries the same examples; a few refused suites also go through ``dfo-bench run``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from dfo_bench.errors import ConfigError
from dfo_bench.registry import optimizers, problems
from dfo_bench.suite import Suite, load_suite
from dfo_bench.suite.expansion import RUN_ID_LENGTH
from dfo_bench.suite.schema import SUITE_NAME, label_fault
from tests.conftest import GOOD
from tests.test_bad_input import dfo_bench, snapshot


def fuzz(examples: int) -> Any:
    """Hypothesis settings of a fuzz test: ``examples`` derandomized examples, no deadline."""
    return settings(
        max_examples=examples, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One folder for every example of a test (hypothesis reruns the body, not the fixture)."""
    yield tmp_path_factory.mktemp("fuzz")


def check(folder: Path, content: str | bytes) -> Suite | None:
    """``content`` as a suite file through ``load_suite``: a valid suite with safe file names, or one
    line naming the file; the folder holds nothing but the file afterwards."""
    path = folder / "suite.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    before = snapshot(folder)
    try:
        suite: Suite | None = load_suite(path)
    except ConfigError as exc:
        line = str(exc)
        event(re.sub(r"\d+|'[^']*'|\(.*", "", line.removeprefix(f"{path}: ").split(": ")[0])[:40])
        assert line.isprintable(), f"not one line: {line!r}"
        assert line.startswith(f"{path}: "), line
        suite = None
    assert snapshot(folder) == before, "validation wrote files"
    if suite is not None:
        event("valid")
        assert re.fullmatch(SUITE_NAME, suite.name), suite.name
        labels = {spec.label for run in suite.runs for spec in (run.problem, run.optimizer)}
        labels |= {spec.label for plan in suite.studies for spec in (plan.problem, plan.optimizer)}
        assert all(label_fault(label) is None for label in labels), labels
        ids = [run.run_id for run in suite.runs]
        assert all(len(run_id) <= RUN_ID_LENGTH for run_id in ids)
        assert len({run_id.lower() for run_id in ids}) == len(ids), "two runs would share a file"
    return suite


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=12))
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8
)
"""Any YAML value: what a typo or a wrong type puts where a number or a name belongs."""


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any] = VALUES) -> st.SearchStrategy[Any]:
    """``good`` nine times in ten, else ``bad``: most suites get far enough to meet the later checks."""
    return st.sampled_from(range(10)).flatmap(lambda i: bad if i == 9 else good)


SIZES = st.integers(-2, 3000) | st.sampled_from([0, 1, 10, 64, 100, 597, 1000, 1077, 1078, 5000, 10**6, 2**63])
"""Counts around the limits that matter (digits' 1,077 training samples, a super-batch of 1,000)."""
NUMBERS = SIZES | st.floats(-3, 3) | st.floats()
STRINGS = st.sampled_from(["f1", "precision-recall", "cross-entropy", "digits", "sinewave", "mnist", "blocks", "PSO", "x/y"])

FIELDS = {
    **{name: list(problems.get(name).Params.model_fields) for name in problems.names()},
    **{name: list(optimizers.get(name).Params.model_fields) for name in optimizers.names()},
}
"""Parameter names of every registered class (loaded here, not while examples are drawn)."""


def params(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Parameters named like ``fields`` (or not) with numbers, strings, booleans or anything."""
    key = mostly(st.sampled_from(fields), st.text(max_size=8)) if fields else st.text(max_size=8)
    return st.dictionaries(key, mostly(NUMBERS | STRINGS | st.booleans()), max_size=3)


def entry(known: st.SearchStrategy[str], **extra: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A problem or optimizer entry: a bare name, or a mapping with parameters of its class and
    perhaps a label (of any Unicode, control characters included, or one a file system minds)."""

    def named(name: str) -> st.SearchStrategy[Any]:
        fields = FIELDS.get(name, [])
        labels = st.text(max_size=110) | st.sampled_from(["../x", "..", ".h", "a/b", "A", "a", "a_", "_a", "x" * 100])
        optional = {"label": mostly(st.none(), labels), "params": mostly(params(fields)), **extra}
        return st.just(name) | st.fixed_dictionaries({"name": st.just(name)}, optional=optional)

    return mostly(known, st.text(max_size=12)).flatmap(named)


POSITIVE = st.integers(1, 10**7) | st.sampled_from([100, 1000, 1077, 10**6])
BUDGETS = mostly(
    st.fixed_dictionaries({}, optional={"evaluations": POSITIVE, "samples": POSITIVE, "seconds": st.floats(0.1, 100)}).filter(
        bool
    ),
    st.dictionaries(st.sampled_from(["evaluations", "samples", "seconds", "steps"]), SIZES | VALUES, max_size=3),
)
PRETRAIN = st.fixed_dictionaries(
    {"pretrain": st.fixed_dictionaries({"epochs": st.floats(0, 5) | SIZES}, optional={"params": params(["batch_size", "lr"])})}
)
SPACES = st.fixed_dictionaries({"kind": st.sampled_from(["full", "blocks", "cubes"])}, optional={"n_bins": SIZES})
SEEDS = st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=4, unique=True)
TUNING = st.fixed_dictionaries(
    {"trials": SIZES, "seeds": st.lists(st.integers(0, 20), max_size=3)},
    optional={
        "budget": BUDGETS,
        "budget_fraction": st.floats(-1, 2),
        "metric": st.sampled_from(["val_loss", "val_f1", "train_loss", "bogus"]),
    },
)
PROBLEM_ENTRIES = entry(
    mostly(
        st.sampled_from(["sphere", "rosenbrock", "rastrigin", "zdt1", "digits-mlp", "mlp-hpo"]), st.sampled_from(problems.names())
    ),
    init=mostly(st.none(), PRETRAIN),
)
"""Problems that need no data files, and sometimes those that do (refused where the data is missing)."""
OPTIMIZER_ENTRIES = entry(
    st.sampled_from(optimizers.names()),
    space=mostly(st.none(), SPACES),
    super_batch=mostly(st.none(), SIZES),
    budget=mostly(st.none(), BUDGETS),
    tune=mostly(st.just(True), st.booleans() | VALUES),
)
EXTRAS = st.fixed_dictionaries(
    {},
    optional={
        "name": mostly(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True), st.text(max_size=110)),
        "checkpoints": mostly(st.integers(20, 1000), SIZES),
        "device": st.sampled_from(["cpu", "auto", "tpu"]),
        "threads": SIZES,
        "executor": mostly(st.sampled_from(["sequential", "process", "dask", "slurm"]), VALUES),
        "tuning": TUNING | VALUES,
        "seed": VALUES,
    },
)
SUITES = st.tuples(
    st.fixed_dictionaries(
        {
            "problems": mostly(st.lists(PROBLEM_ENTRIES, min_size=1, max_size=2)),
            "optimizers": mostly(st.lists(OPTIMIZER_ENTRIES, min_size=1, max_size=2)),
            "seeds": mostly(SEEDS),
            "budget": BUDGETS,
        }
    ),
    mostly(st.just({}), EXTRAS),
).map(lambda parts: {**parts[0], **parts[1]})
"""Suites of the right shape (mostly) with random values, and sometimes more fields."""

TOKENS = st.lists(
    st.sampled_from(
        [
            "problems:",
            "optimizers:",
            "seeds:",
            "budget:",
            "name:",
            "label:",
            "params:",
            "- ",
            "[",
            "]",
            "{",
            "}",
            ", ",
            ": ",
            "\n",
            "  ",
            "&a ",
            "*a",
            "<<: ",
            "? ",
            "!!python/object:os.system ",
            "!!binary ",
            "!!int ",
            "!!set ",
            "!!timestamp ",
            "'",
            '"',
            "\\",
            "#",
            "---\n",
            "...\n",
            "|\n",
            ">\n",
            "%YAML 1.1\n",
            "sphere",
            "de",
            "digits-mlp",
            "0",
            "-1",
            "1e999",
            ".nan",
            "~",
            "\t",
            "\x85",
            "\ufeff",
            "é",
        ]
    ),
    max_size=60,
).map("".join)
"""YAML tokens in random order: anchors, aliases, merges, tags, indentation, directives."""


def edited(text: str) -> st.SearchStrategy[str]:
    """``text`` with a few characters replaced, inserted or deleted at random places."""

    def edit(text: str, edits: list[tuple[int, int, str]]) -> str:
        for at, cut, put in edits:
            at %= len(text) + 1
            text = text[:at] + put + text[at + cut :]
        return text

    return st.lists(st.tuples(st.integers(0, 10**4), st.integers(0, 3), st.text(max_size=3)), min_size=1, max_size=4).map(
        lambda e: edit(text, e)
    )


GOOD_TEXT = yaml.safe_dump(
    {**GOOD, "problems": ["sphere", {"name": "digits-mlp", "params": {"super_batch": 100}}]}, sort_keys=False
)


@fuzz(2000)
@given(suite=SUITES)
def test_generated_suites_are_valid_or_refused_in_one_line(suite: dict[str, Any], folder: Path) -> None:
    check(folder, yaml.safe_dump(suite, sort_keys=False, allow_unicode=True))


@fuzz(300)
@given(content=st.text(max_size=300))
def test_random_text_is_a_suite_or_refused_in_one_line(content: str, folder: Path) -> None:
    check(folder, content)


@fuzz(200)
@given(content=st.binary(max_size=300))
def test_random_bytes_are_refused_in_one_line(content: bytes, folder: Path) -> None:
    check(folder, content)


@fuzz(500)
@given(content=TOKENS)
def test_yaml_tokens_in_any_order_are_refused_in_one_line(content: str, folder: Path) -> None:
    check(folder, content)


@fuzz(500)
@given(content=edited(GOOD_TEXT))
def test_a_good_suite_with_random_edits_is_valid_or_refused_in_one_line(content: str, folder: Path) -> None:
    check(folder, content)


@settings(max_examples=3, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(suite=SUITES)
def test_generated_bad_suites_through_the_cli(suite: dict[str, Any], tmp_path: Path) -> None:
    """Exit status 2, one line on stderr naming the file, nothing written (``dfo_bench`` checks)."""
    text = yaml.safe_dump(suite, sort_keys=False, allow_unicode=True)
    path = tmp_path / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_suite(path)
    except ConfigError:
        pass
    else:
        assume(False)  # a valid suite would start runs
    line = dfo_bench(tmp_path, "run", str(path), "--out", str(tmp_path / "results"))
    assert line.startswith(f"{path}: "), line
