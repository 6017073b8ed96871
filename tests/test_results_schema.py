"""docs/results-schema.md against the files a real run writes, so that the page cannot drift:
every stored column is documented, every column documented as always present is stored, and
each has the documented type."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from dfo_bench import api
from tests.conftest import REPO

PAGE = REPO / "docs" / "results-schema.md"
ROW = re.compile(r"^\| `(?P<name>[^`]+)` \|(?P<type>[^|]+)\|(?P<unit>[^|]*)\|(?P<present>[^|]+)\|(?P<meaning>[^|]+)\|$")


def documented() -> dict[str, tuple[str, str]]:
    """Column name (``<metric>``-style placeholders kept) -> (type, when present)."""
    rows = [ROW.match(line) for line in PAGE.read_text().splitlines()]
    return {m["name"]: (m["type"].strip(), m["present"].strip()) for m in rows if m}


def pattern(name: str) -> re.Pattern[str]:
    """A documented name as a regular expression: ``<...>`` stands for one or more name characters."""
    return re.compile("^" + re.sub(r"<[^>]+>", "[a-z0-9_]+", re.escape(name).replace(r"\<", "<").replace(r"\>", ">")) + "$")


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> list[pd.DataFrame]:
    """The files of a real run of a classifier, a test function and a control task."""
    out = tmp_path_factory.mktemp("schema")
    suite = api.suite(
        {
            "name": "schema",
            "problems": [
                "digits-mlp",
                {"name": "sphere", "params": {"dim": 4}},
                {"name": "rl", "params": {"env": "CartPole-v1", "hidden": [4], "val_episodes": 1, "test_episodes": 1}},
            ],
            "optimizers": ["random-search"],
            "seeds": [0],
            "budget": {"evaluations": 40},
            "executor": "sequential",
        }
    )
    api.run(suite, out, progress=False, say=lambda line, err: None)
    files = sorted((out / "runs").glob("*.parquet"))
    assert len(files) == 3
    return [pd.read_parquet(f) for f in files]


def _type_ok(values: pd.Series, kind: str) -> bool:
    base, null, _ = kind.partition(" or null")
    present = values.dropna()
    if len(present) < len(values) and not null:
        return False
    if base == "string":
        return all(isinstance(v, str) for v in present)
    if base == "JSON":
        return all(isinstance(v, str) and json.loads(v) is not None for v in present)
    if base == "integer":
        return all(float(v).is_integer() for v in present) and (bool(null) or pd.api.types.is_integer_dtype(values))
    if base == "float":
        return pd.api.types.is_float_dtype(values) or all(isinstance(v, float) for v in present)
    if base == "boolean":
        return all(isinstance(v, bool) for v in present)
    if base.startswith("float, or text"):
        return pd.api.types.is_numeric_dtype(values) or all(isinstance(v, str) for v in present)
    raise AssertionError(f"{PAGE.name}: unknown type {kind!r}")


def test_every_stored_column_is_documented_with_its_type(stored: list[pd.DataFrame]) -> None:
    docs = documented()
    exact = {name for name in docs if "<" not in name}
    patterns = [(name, pattern(name)) for name in docs if "<" in name and not name.startswith("final_")]
    for frame, column in [(f, c) for f in stored for c in f.columns]:
        base = column.removeprefix("final_")
        match = column if column in exact else next((n for n, p in patterns if p.match(column)), None)
        if match is None and column.startswith("final_"):
            assert base in exact or any(p.match(base) for _, p in patterns), f"{column}: final_ of an undocumented column"
            match = "final_<column>"
        assert match is not None, f"{column} is stored but not documented in {PAGE}"
        kind = docs[match][0]
        assert _type_ok(frame[column], kind), f"{column}: documented as {kind}, stored as {frame[column].dtype}"


def test_every_column_documented_as_always_present_is_stored(stored: list[pd.DataFrame]) -> None:
    always = [name for name, (_, present) in documented().items() if present == "always" and "<" not in name]
    assert len(always) > 40
    for frame in stored:
        missing = [name for name in always if name not in frame.columns]
        assert not missing, f"documented as always present, not stored: {missing}"
    classifier = next(frame for frame in stored if frame["problem"].iloc[0] == "digits-mlp")
    declared = [c for c in classifier.columns if re.fullmatch(r"(train|val|test)_(accuracy|f1)", c)]
    assert len(declared) == 6, "the classifier's declared metrics are stored on every split"
