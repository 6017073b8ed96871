"""Name → class registries for problems and optimizers: built-ins plus entry-point plugins.

Entry points (groups ``dfo_bench.problems`` and ``dfo_bench.optimizers``) are read once, on
first use. A plugin that fails to import, or that is not the right kind of class, becomes a
failed entry: asking for it raises an error naming the entry point, the file and line where it
failed and how to see the whole traceback (kept in ``Entry.traceback``), and other names still work.
"""

from __future__ import annotations

import difflib
import importlib
import traceback
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from dfo_bench.errors import PluginError, UnknownNameError
from dfo_bench.optimizers.base import Optimizer
from dfo_bench.problems.base import Problem

T = TypeVar("T")


@dataclass
class Entry:
    name: str
    target: str
    """'module:attribute' of the class."""
    origin: str
    """'built-in', or the entry point as 'group: name = module:attr (distribution)'."""
    loaded: type | None = None
    error: str | None = None
    traceback: str | None = None
    """The whole traceback of a failed load (``dfo-bench list --traceback`` shows it)."""


TRACEBACK_HINT = "whole traceback: dfo-bench list --traceback, or DFO_BENCH_TRACEBACK=1"


def failure_site(exc: BaseException) -> str | None:
    """Where a plugin failed: the file and line of the innermost frame outside the import machinery
    and this module (a syntax error: its own file and line); None when there is none (a module
    that is not installed, a class that is not the right kind)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith("<frozen") and f.filename != __file__ and "importlib" not in f.filename
    ]
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else None


class Registry(Generic[T]):
    """A registry of one kind of class (problems or optimizers)."""

    def __init__(self, kind: str, base: type, group: str, builtins: dict[str, str]) -> None:
        """``base``: the class every entry must subclass (T itself; typed ``type`` because T is abstract)."""
        self.kind = kind
        self.group = group
        self._base = base
        self._builtins = builtins
        self._entries: dict[str, Entry] | None = None

    def _read(self) -> dict[str, Entry]:
        if self._entries is None:
            entries = {name: Entry(name, target, "built-in") for name, target in self._builtins.items()}
            for ep in entry_points(group=self.group):
                dist = getattr(ep.dist, "name", "?")
                origin = f"entry point '{ep.name} = {ep.value}' in group {self.group} ({dist})"
                if ep.name in entries:
                    entries[f"{ep.name}@{dist}"] = Entry(
                        ep.name, ep.value, origin, error=f"name '{ep.name}' is already registered ({entries[ep.name].origin})"
                    )
                    continue
                entries[ep.name] = Entry(ep.name, ep.value, origin)
            self._entries = entries
        return self._entries

    def register(self, name: str, target: str) -> None:
        """Add a class by 'module:attribute'; a name already taken raises."""
        entries = self._read()
        if name in entries:
            raise ValueError(f"{self.kind} '{name}' is already registered ({entries[name].origin})")
        entries[name] = Entry(name, target, "registered at run time")

    def names(self) -> list[str]:
        return sorted(e.name for key, e in self._read().items() if key == e.name)

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``; raises with close matches if there is none."""
        entries = self._read()
        if name not in entries:
            close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
            raise UnknownNameError(f"unknown {self.kind} '{name}'; {hint}known: {', '.join(self.names())}")
        entry = self._load(entries[name])
        if entry.error:
            raise PluginError(f"{self.kind} '{name}' failed to load from {entry.origin}: {entry.error}")
        return entry.loaded  # type: ignore[return-value]

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, one-line description or the load error, origin) for every entry, failed ones too."""
        rows = []
        for entry in self._read().values():
            self._load(entry)
            text = f"FAILED: {entry.error}" if entry.error else entry.loaded.description  # type: ignore[union-attr]
            rows.append((entry.name, text, entry.origin))
        return sorted(rows)

    def _load(self, entry: Entry) -> Entry:
        if entry.loaded is not None or entry.error is not None:
            return entry
        try:
            module, _, attr = entry.target.partition(":")
            obj = getattr(importlib.import_module(module), attr)
            base = self._base
            if not (isinstance(obj, type) and issubclass(obj, base)):
                raise TypeError(f"{entry.target} is not a subclass of {base.__module__}.{base.__qualname__}")
            if getattr(obj, "name", None) != entry.name:
                raise TypeError(f"{entry.target}.name is {getattr(obj, 'name', None)!r}, not {entry.name!r}")
            entry.loaded = obj
        except Exception as exc:  # a broken plugin must not break the other names
            where = failure_site(exc)
            at = f", at {where}" if where else ""
            entry.error = f"{type(exc).__name__}: {exc} (in {module}{at}; {TRACEBACK_HINT})"
            entry.traceback = "".join(traceback.format_exception(exc))
        return entry

    def failures(self) -> list[Entry]:
        """The entries that failed to load so far, with their tracebacks."""
        return [e for e in self._read().values() if e.error is not None]


problems: Registry[Problem] = Registry(
    "problem",
    Problem,
    "dfo_bench.problems",
    {
        "cifar10-resnet18": "dfo_bench.problems.resnet:Cifar10ResNet18",
        "cifar100-resnet18": "dfo_bench.problems.resnet:Cifar100ResNet18",
        "digits-mlp": "dfo_bench.problems.digits:DigitsMLP",
        "mlp-hpo": "dfo_bench.problems.mlp_hpo:MLPHPO",
        "mnist-mlp": "dfo_bench.problems.mnist:MNISTMLP",
        "rastrigin": "dfo_bench.problems.functions:Rastrigin",
        "rl": "dfo_bench.problems.rl.problem:ControlProblem",
        "rosenbrock": "dfo_bench.problems.functions:Rosenbrock",
        "sphere": "dfo_bench.problems.functions:Sphere",
        "zdt1": "dfo_bench.problems.zdt:ZDT1",
    },
)

optimizers: Registry[Optimizer] = Registry(
    "optimizer",
    Optimizer,
    "dfo_bench.optimizers",
    {
        "adam": "dfo_bench.optimizers.adam:Adam",
        "ars": "dfo_bench.optimizers.ars:ARS",
        "cbo": "dfo_bench.optimizers.cbo:CBO",
        "cma-es": "dfo_bench.optimizers.cma_es:CMAES",
        "de": "dfo_bench.optimizers.de:DifferentialEvolution",
        "direct-search": "dfo_bench.optimizers.direct_search:DirectSearch",
        "eggroll": "dfo_bench.optimizers.eggroll:Eggroll",
        "ga": "dfo_bench.optimizers.ga:GeneticAlgorithm",
        "ga-hpo": "dfo_bench.optimizers.ga_hpo:GAHPO",
        "hbde": "dfo_bench.optimizers.hbde:HBDE",
        "mobo-ars": "dfo_bench.optimizers.mobo_ars:MOBOARS",
        "nevergrad": "dfo_bench.optimizers.nevergrad_adapter:NevergradOptimizer",
        "nsga2": "dfo_bench.optimizers.nsga2:NSGA2",
        "openai-es": "dfo_bench.optimizers.openai_es:OpenAIES",
        "optuna": "dfo_bench.optimizers.optuna_adapter:OptunaOptimizer",
        "parego": "dfo_bench.optimizers.parego:ParEGO",
        "ppo": "dfo_bench.optimizers.ppo:PPO",
        "pymoo": "dfo_bench.optimizers.pymoo_adapter:PymooAlgorithm",
        "random-box": "dfo_bench.optimizers.random_box:RandomBox",
        "random-search": "dfo_bench.optimizers.random_search:RandomSearch",
    },
)
