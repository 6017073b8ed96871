"""Reading a suite file and saying what is wrong with it, in one line naming the file and the field.

The YAML is read safely (no Python tags) and within limits, so that no file can exhaust memory,
the stack or the user's patience: at most ``MAX_BYTES``, ``MAX_DEPTH`` levels of nesting and
``MAX_VALUES`` values once aliases are expanded (a "billion laughs" document is refused, not
expanded); every key of a mapping once (YAML would silently keep the last).
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode

from dfo_bench.errors import ConfigError

MAX_BYTES = 1024 * 1024
"""A suite file's size limit: 1 MiB, a thousand times the largest shipped suite."""
MAX_DEPTH = 32
"""Levels of lists and mappings below the document's top mapping (a suite needs about 5)."""
MAX_VALUES = 100_000
"""Values (scalars, lists, mappings) with each alias counted as the values of its anchor."""
MERGE = "tag:yaml.org,2002:merge"


class _Refused(Exception):
    """A document past a limit, or with a key twice: where in the document, and what is wrong."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")


class _SuiteLoader(yaml.SafeLoader):
    """PyYAML's safe loader that knows where it is (the key path) and refuses duplicate keys,
    deep nesting and alias expansion past ``MAX_VALUES``."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._steps: list[str] = []
        self._values = 0
        self._sizes: dict[str, int] = {}
        """Values of each anchor's node, aliases inside it expanded."""

    def _where(self) -> str:
        return "".join(self._steps).lstrip(".") or "suite"

    def _count(self, values: int, line: int) -> None:
        self._values += values
        if self._values > MAX_VALUES:
            raise _Refused(
                self._where(),
                f"more than {MAX_VALUES:,} values with aliases expanded (line {line}); "
                f"allowed: at most {MAX_VALUES:,}, each use of an alias counting its anchor's values",
            )

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if isinstance(index, ScalarNode):
            step = f".{index.value}"
        elif isinstance(index, int):
            step = f"[{index}]"
        else:  # the root, or a key being composed
            step = ""
        self._steps.append(step)
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            anchor = str(event.anchor)
            if anchor in self.anchors and anchor not in self._sizes:
                raise _Refused(
                    self._where(), f"alias *{anchor} inside its own anchor (line {line}); allowed: aliases of finished anchors"
                )
            self._count(self._sizes.get(anchor, 0), line)
            node = super().compose_node(parent, index)
        else:
            if len(self._steps) > MAX_DEPTH + 1:
                raise _Refused(
                    self._where(), f"nested more than {MAX_DEPTH} levels deep (line {line}); allowed: at most {MAX_DEPTH}"
                )
            before = self._values
            self._count(1, line)
            node = super().compose_node(parent, index)
            if event.anchor is not None:
                self._sizes[event.anchor] = self._values - before
        self._steps.pop()
        return node

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node: MappingNode = super().compose_mapping_node(anchor)
        seen: dict[Any, int] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode) or key.tag == MERGE:
                continue
            known = key.tag in self.yaml_constructors
            value = self.construct_object(key) if known else None
            if not (known and isinstance(value, Hashable)):  # an unknown tag, or !!set on a key
                value = (key.tag, key.value)
            line = key.start_mark.line + 1
            if value in seen:
                where = f"{self._where()}.{key.value}".removeprefix("suite.")
                raise _Refused(where, f"duplicate key (lines {seen[value]} and {line}); each key once")
            seen[value] = line
        return node

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError) as exc:  # a 5,000-digit integer, month 13
            kind = node.tag.rsplit(":", 1)[-1]
            shown = f"{node.value!r:.40}" if isinstance(node, ScalarNode) else f"this {getattr(node, 'id', 'node')}"
            reason = f": {exc}" if type(exc) is ValueError and str(node.value) not in str(exc) else ""
            raise ConstructorError(None, None, f"cannot read {shown} as {kind}{reason}", node.start_mark) from None


def read_yaml(path: Path) -> Any:
    """The YAML document of ``path``; ConfigError (one line) for unreadable, binary, non-UTF-8,
    invalid or too large files, duplicate keys, and documents past the limits above."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than 1 MiB; allowed: a suite file of at most 1 MiB ({MAX_BYTES:,} bytes)")
    if b"\x00" in data:
        raise ConfigError(f"{path}: a binary file, not a YAML suite")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the suite as UTF-8") from None
    try:
        loader = _SuiteLoader(text)
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        shown = repr(chr(exc.character))
        raise ConfigError(f"{path}: not valid YAML at line {line}: {shown} is a character YAML does not allow") from None
    try:
        return loader.get_single_data()
    except _Refused as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{at}: {_problem(exc)}") from None
    finally:
        loader.dispose()


def _problem(exc: yaml.YAMLError) -> str:
    """What PyYAML found wrong, with what it was reading when that helps (a duplicate anchor's first line)."""
    problem = getattr(exc, "problem", None) or str(exc).replace("\n", " ")
    context, mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context is None:
        return problem
    return f"{context}{f' (line {mark.line + 1})' if mark else ''}, {problem}"


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
