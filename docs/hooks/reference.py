"""MkDocs hook: the reference pages are generated from the code at build time, so they cannot drift.

A page holds a marker where a generated part goes; ``on_page_markdown`` replaces it:

- ``<!-- generated: suite-schema -->``: every block of the suite file, from the pydantic models of
  ``dfo_bench.suite.schema`` (and the executor, space and budget models they use): each field
  with its type, default, allowed values and the docstring written under it;
- ``<!-- generated: problems -->``, ``<!-- generated: optimizers -->``: every registered class
  (built-ins and installed plugins), with its description, class data, ``Params`` fields and, for
  optimizers, the declared ``tuning_ranges``;
- ``<!-- generated: summary PATH -->``: a results table from a report's ``summary.csv`` kept
  beside the page (``docs/results/data/``), written by ``summary_table`` below.

Field docstrings (a string literal under a field) are read from the source with ``ast``, since
pydantic keeps them only with ``use_attribute_docstrings``, which the models do not set.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import json
import re
import sys
import textwrap
import types
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

MARKER = re.compile(r"^<!-- generated: ([a-z-]+)(?: ([^ ]+))? -->$", re.MULTILINE)
"""A marker stands alone on its line (one written inside a sentence or code span is text)."""
DOCS = Path(__file__).resolve().parent.parent


# --- field docstrings, types, constraints --------------------------------------------------------


@cache
def _class_docstrings(cls: type) -> dict[str, str]:
    """Docstrings written under the class's own annotated attributes, by attribute name."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    found = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            found[node.target.id] = inspect.cleandoc(after.value.value)
    return found


def field_doc(model: type, name: str) -> str:
    """The docstring under ``name`` in the nearest class of ``model``'s MRO that documents it."""
    for cls in model.__mro__:
        doc = _class_docstrings(cls).get(name)
        if doc:
            return doc
    return ""


def _bound(item: Any) -> str | None:
    for kind, sign, attribute in (
        (annotated_types.Gt, ">", "gt"),
        (annotated_types.Ge, "≥", "ge"),
        (annotated_types.Lt, "<", "lt"),
        (annotated_types.Le, "≤", "le"),
    ):
        if isinstance(item, kind):
            value = getattr(item, attribute)
            return f"{sign} {_limit(value)}"
    if isinstance(item, annotated_types.MinLen):
        return f"length ≥ {item.min_length}"
    if isinstance(item, annotated_types.MaxLen):
        return f"length ≤ {item.max_length}"
    if isinstance(item, FieldInfo):  # Annotated[int, Field(ge=0)] inside a list
        return ", ".join(constraints(item.metadata)) or None
    pattern = getattr(item, "pattern", None)
    return f"matches `{pattern}`" if pattern else None


def _limit(value: float) -> str:
    """``1,024``, ``0.5``; the 64-bit limits as powers of two (``2^63 − 1``), not 19 digits."""
    if isinstance(value, int) and value >= 2**32:
        for power in range(32, 65):
            if value in (2**power, 2**power - 1):
                return f"2^{power}" + (" − 1" if value == 2**power - 1 else "")
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def constraints(metadata: list[Any]) -> list[str]:
    """Bounds and lengths stated by a field's metadata, as short phrases."""
    return [text for text in map(_bound, metadata) if text]


def type_text(annotation: Any, models: dict[type, str]) -> str:
    """A readable type: ``int | null``, ``list[ProblemConfig]`` (linked where documented)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        inner = type_text(args[0], models)
        limits = constraints(list(args[1:]))
        return f"{inner} ({', '.join(limits)})" if limits else inner
    if origin is Literal:
        return " | ".join(f"`{a}`" for a in args)
    if origin in (Union, types.UnionType):
        return " | ".join(type_text(a, models) for a in args)
    if origin in (list, tuple, dict):
        shown = [type_text(a, models) for a in args if a is not Ellipsis]
        return f"{origin.__name__}[{', '.join(shown)}]"
    if annotation is type(None):
        return "null"
    if annotation is Any:
        return "any"
    if isinstance(annotation, type):
        if annotation in models:
            return f"[{annotation.__name__}](#{models[annotation]})"
        return {"str": "string", "bool": "boolean", "float": "number"}.get(annotation.__name__, annotation.__name__)
    return str(annotation).replace("typing.", "")


def default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", exclude_defaults=True)
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"`{value}`"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f"`{value:,}`" if isinstance(value, int) else f"`{value:g}`"
    return f"`{json.dumps(value, default=str)}`"


def cell(text: str) -> str:
    """Text fit for one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def fields_table(model: type[BaseModel], models: dict[type, str], skip: tuple[str, ...] = ()) -> str:
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        kind = type_text(field.annotation, models)
        limits = constraints(field.metadata)
        if limits:
            kind += f" ({', '.join(limits)})"
        rows.append(f"| `{name}` | {cell(kind)} | {cell(default_text(field))} | {cell(field_doc(model, name))} |")
    return "\n".join(rows)


# --- the suite file ----------------------------------------------------------------------------


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in get_args(annotation) for m in _models_in(a)]


def suite_models() -> list[type[BaseModel]]:
    """Every model a suite file is made of, from ``SuiteConfig`` down, in order of first use."""
    from dfo_bench.suite.schema import SuiteConfig

    order: list[type[BaseModel]] = []
    pending: list[type[BaseModel]] = [SuiteConfig]
    while pending:
        model = pending.pop(0)
        if model in order:
            continue
        order.append(model)
        pending += [m for field in model.model_fields.values() for m in _models_in(field.annotation)]
    return order


SUITE_BLOCKS = {
    "SuiteConfig": "The top level of a suite file.",
    "ProblemConfig": "An entry of `problems:` (a bare name is short for `{name: ...}`).",
    "OptimizerConfig": "An entry of `optimizers:` (a bare name is short for `{name: ...}`).",
    "SuiteBudget": "`budget:`, of the suite, of an optimizer entry or of `tuning:`; a run stops at the first limit reached.",
    "ExecutorConfig": "`executor:` (a bare kind is short for `{kind: ...}`); each kind takes only its own fields (below).",
    "TuningConfig": "`tuning:`: an equal, declared tuning budget for every optimizer entry ([Tuning](../tuning.md)).",
    "InitConfig": "A problem's `init:`.",
    "PretrainConfig": "`init: {pretrain: ...}`: gradient pre-training shared by every optimizer of the problem.",
    "FullSpaceConfig": "`space: {kind: full}`: every weight is a coordinate (the default, but for `hbde`).",
    "BlockSpaceConfig": "`space: {kind: blocks}`: one coordinate per non-empty histogram bin of the initial weights.",
}


def suite_schema() -> str:
    from dfo_bench.suite.executor import EXECUTOR_FIELDS

    models = suite_models()
    anchors = {m: m.__name__.lower() for m in models}
    parts = []
    for model in models:
        intro = SUITE_BLOCKS.get(model.__name__) or inspect.cleandoc(model.__doc__ or "")
        skip = ("extra_slurm",) if model.__name__ == "ExecutorConfig" else ()
        parts.append(f"### {model.__name__} {{#{anchors[model]}}}\n\n{intro}\n\n{fields_table(model, anchors, skip)}\n")
        if model.__name__ == "ExecutorConfig":
            rows = ["| kind | fields besides `kind` |", "|---|---|"]
            for kind, names in EXECUTOR_FIELDS.items():
                shown = [f"`{n}`" for n in names] + (
                    ["`slurm_*` (any option of submitit's SlurmExecutor)"] if kind == "slurm" else []
                )
                rows.append(f"| `{kind}` | {', '.join(shown) or 'none'} |")
            parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)


# --- the registry ------------------------------------------------------------------------------


def _space_text(space: BaseModel) -> str:
    given = space.model_dump(mode="json")
    kind = given.pop("kind")
    return f"`{kind}`" + (f" ({', '.join(f'{k} {v:,}' for k, v in given.items())})" if given else "")


def registry_page(kind: str) -> str:
    """Every entry of one registry, with its class data, parameters and (optimizers) tuning ranges."""
    from dfo_bench import registry
    from dfo_bench.ranges import describe

    reg = registry.problems if kind == "problems" else registry.optimizers
    parts = []
    for name, text, origin in reg.describe():
        parts.append(f"## `{name}`\n")
        if text.startswith("FAILED"):
            parts.append(f"{cell(text)} ({origin})\n")
            continue
        cls = reg.get(name)
        facts = [f"class `{cls.__module__}.{cls.__qualname__}`", f"version {cls.version}", origin]
        if kind == "problems":
            facts += [
                f"objectives: {cls.n_objectives}",
                f"candidates: {'typed configurations' if cls.search_kind == 'typed' else 'weights'}",
                "has a training set" if cls.has_data else "no data (a test function)",
            ]
        else:
            objectives = "any number" if cls.objectives is None else str(cls.objectives)
            facts += [f"searches: {', '.join(sorted(cls.search_kinds))}", f"objectives: {objectives}"]
            facts.append(f"default space: {_space_text(cls.default_space)}")
            if cls.default_super_batch is not None:
                facts.append(f"default super-batch: {cls.default_super_batch:,} samples")
            if cls.max_dim is not None:
                facts.append(f"at most {cls.max_dim:,} coordinates")
        parts.append(f"{cell(text)}\n\n" + "".join(f"- {f}\n" for f in facts))
        doc = inspect.getdoc(cls.Params) if cls.Params.__doc__ else ""
        if cls.Params.model_fields:
            parts.append(
                f"**Parameters** (`{cls.Params.__name__}`{': ' + cell(doc) if doc else ''})\n\n{fields_table(cls.Params, {})}\n"
            )
        else:
            parts.append("**Parameters**: none.\n")
        if kind == "optimizers":
            ranges = describe(cls.tuning_ranges) if cls.tuning_ranges else "none declared: not tuned"
            parts.append(f"**Tuning ranges**: {ranges}\n")
    return "\n".join(parts)


# --- the import layers --------------------------------------------------------------------------


def layers() -> str:
    """The layers of pyproject.toml's import-linter contract, highest first, each module with the
    first paragraph of its docstring."""
    import importlib

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    config = tomllib.loads((DOCS.parent / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    rows = ["| layer | modules |", "|---:|---|"]
    for depth, layer in enumerate(contract["layers"], start=1):
        separator = "|" if "|" in layer else ":"
        names, joined = [n.strip() for n in layer.split(separator)], f" {separator} "
        shown = []
        for name in names:
            doc = (importlib.import_module(name).__doc__ or "").strip().split("\n\n")[0]
            shown.append(f"`{name.removeprefix('dfo_bench.')}`" + (f" ({cell(doc).rstrip('.')})" if doc else ""))
        rows.append(f"| {depth} | {cell(joined.join(shown))} |")
    return "\n".join(rows)


# --- results tables ----------------------------------------------------------------------------


def summary_table(path: Path) -> str:
    """The final-metrics table of a report's ``summary.csv`` (``dfo-bench report`` writes it): per
    problem, one row per optimizer in the order of the report's mean rank, led by the metric the
    report ranked on (its ``primary_metric``: test accuracy, a control task's test return, a test
    function's test loss); columns the file lacks are left out."""
    import pandas as pd

    frame = pd.read_csv(path)
    parts = []
    for problem, rows in frame.groupby("problem", sort=False):
        primary = str(rows["primary_metric"].iloc[0]) if "primary_metric" in rows else "test_accuracy"
        if f"{primary}_mean" not in rows or rows[f"{primary}_mean"].isna().all():
            primary = "test_loss"
        label = primary.replace("_", " ")
        # heading: (the column it needs, how a row shows it)
        columns: dict[str, tuple[str, Any]] = {
            "mean rank": ("rank", lambda r: _number(r["rank"])),
            f"{label} mean [95 % CI]": (f"{primary}_mean", lambda r, m=primary: _interval(r, m)),
            "± sd": (f"{primary}_sd", lambda r, m=primary: _number(r[f"{m}_sd"])),
            "test macro-F1": ("test_f1_mean", lambda r: _number(r["test_f1_mean"])),
            "final training loss": ("train_loss_mean", lambda r: _number(r["train_loss_mean"])),
            "evaluations": ("evaluations", lambda r: _number(r["evaluations"])),
            "coordinates": ("coordinates", lambda r: _number(r["coordinates"])),
            "seconds per run": ("seconds", lambda r: _number(r["seconds"])),
            "setup seconds": ("setup_seconds", lambda r: _number(r["setup_seconds"])),
        }
        shown = [c for c, (needs, _) in columns.items() if needs in rows.columns and rows[needs].notna().any()]
        lines = [f"| optimizer | {' | '.join(shown)} |", "|---|" + "---:|" * len(shown)]
        for _, row in rows.sort_values("rank").iterrows():
            lines.append(f"| {row['optimizer']} | " + " | ".join(columns[c][1](row) for c in shown) + " |")
        parts.append((f"**{problem}**\n\n" if frame["problem"].nunique() > 1 else "") + "\n".join(lines))
    return "\n\n".join(parts)


def _interval(row: Any, metric: str) -> str:
    return f"{_number(row[metric + '_mean'])} [{_number(row[metric + '_ci_low'])}, {_number(row[metric + '_ci_high'])}]"


def _number(value: Any) -> str:
    """Four decimals for fractions, four significant digits for small losses, thousands grouped."""
    if not isinstance(value, int | float) or value != value:
        return "" if not isinstance(value, str) else value
    if value == 0:
        return "0"
    if float(value).is_integer() and abs(value) >= 10:
        return f"{int(value):,}"
    if abs(value) < 1e-3:
        return f"{value:.3e}"
    if abs(value) < 1:
        return f"{value:.4f}"
    return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"


# --- MkDocs ------------------------------------------------------------------------------------


def render(kind: str, argument: str | None) -> str:
    if kind == "suite-schema":
        return suite_schema()
    if kind in ("problems", "optimizers"):
        return registry_page(kind)
    if kind == "layers":
        return layers()
    if kind == "summary" and argument:
        return summary_table(DOCS / argument)
    raise ValueError(f"unknown generated part {kind!r}")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return MARKER.sub(lambda m: render(m.group(1), m.group(2)), markdown)


if __name__ == "__main__":
    # python docs/hooks/reference.py summary results/data/quickstart-summary.csv: print a table
    print(render(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
