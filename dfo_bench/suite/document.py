"""Reading a suite file and saying what is wrong with it, in one line naming the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dfo_bench.errors import ConfigError


def read_yaml(path: Path) -> Any:
    """The YAML document of ``path``; ConfigError (one line) for unreadable, binary or non-UTF-8 files."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if b"\x00" in data:
        raise ConfigError(f"{path}: a binary file, not a YAML suite")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the suite as UTF-8") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None


def _where(prefix: str, loc: tuple[int | str, ...], data: Any) -> str:
    """A pydantic error location as the suite spells it: ``optimizers.0.space.n_bins``, without
    the member names pydantic inserts for unions (a location step that is not a key of the
    input, except the last, which may be a missing field)."""
    where, node = prefix, data
    for i, key in enumerate(loc):
        if isinstance(node, dict) and key not in node and i < len(loc) - 1:
            continue
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            node = None
        where += f".{key}"
    return where.lstrip(".").replace(".[", "[")


def format_error(path: Path, prefix: str, exc: ValidationError, data: Any) -> str:
    """One line of the first error of ``exc``, raised validating ``data`` found at ``prefix``."""
    err = exc.errors()[0]
    where = _where(prefix, err["loc"], data)
    message = err["msg"].removeprefix("Value error, ")
    shown = "" if err["type"] in ("missing", "value_error") else f" (got {err['input']!r})"
    more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{path}: {where or 'suite'}: {message}{shown}{more}"
