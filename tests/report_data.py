"""Synthetic results folders for the report's tests: real run specs, real ``ResultStore`` files,
traces made up so the right answers are known by construction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import yaml

from dfo_bench.atomic import write_atomically
from dfo_bench.record import RunResult
from dfo_bench.spec import RunSpec
from dfo_bench.store import ResultStore, to_frame
from dfo_bench.suite import load_suite

Quality = Callable[[str, str, int], float]
"""(problem label, optimizer label, seed) -> final accuracy of that run."""


def specs(
    tmp: Path, problems: Sequence[str], optimizers: Sequence[str], seeds: Sequence[int], evaluations: int = 2000
) -> list[RunSpec]:
    """Run specs of a suite of digits-mlp problems and random-search optimizers under the given labels."""
    suite = {
        "name": "synthetic",
        "problems": [{"name": "digits-mlp", "label": p} for p in problems],
        "optimizers": [{"name": "random-search", "label": o, "params": {"popsize": 4 + i}} for i, o in enumerate(optimizers)],
        "seeds": list(seeds),
        "budget": {"evaluations": evaluations},
        "checkpoints": 20,
        "executor": "sequential",
    }
    path = tmp / "synthetic.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return list(load_suite(path).runs)


def trace(final: float, points: int = 21, evaluations: int = 2000, start: float = 0.1) -> list[dict[str, float]]:
    """Checkpoints at evaluations 0, 100, ..., 2000 (10 samples and 0.01 s per evaluation); accuracy
    rising linearly from ``start`` to ``final``, training loss falling with it."""
    rows = []
    for i in range(points):
        fraction = i / (points - 1)
        accuracy = start + (final - start) * fraction
        loss = float(np.exp(-5 * accuracy))
        spent = round(evaluations * fraction)
        row = {"evaluations": spent, "samples": 10 * spent, "seconds": 0.01 * spent, "best_seen_loss": loss}
        for split in ("train", "val", "test"):
            row |= {f"{split}_loss": loss, f"{split}_accuracy": accuracy, f"{split}_f1": accuracy}
        rows.append(row)
    return rows


def write_run(
    root: Path, spec: RunSpec, rows: list[dict[str, float]], error: str | None = None, problem: str | None = None
) -> None:
    """Store a run as ``dfo-bench run`` would; ``problem`` overrides the registered name (to match references)."""
    result = RunResult(
        spec=spec,
        run_seed=spec.seed,
        started_at="2026-01-01T00:00:00+00:00",
        device="cpu",
        dim=2410,
        search_dim=2410,
        trace=rows,
        error=error,
    )
    if problem is None:
        ResultStore(root).write(result)
        return
    frame = to_frame(result).assign(problem=problem)
    write_atomically(ResultStore(root).path(spec.run_id), lambda tmp: frame.to_parquet(tmp, index=False))


def synthetic_results(
    tmp: Path, problems: Sequence[str], optimizers: Sequence[str], seeds: Sequence[int], quality: Quality, name: str = "results"
) -> Path:
    """A results folder with one stored run per (problem, optimizer, seed), final accuracy ``quality(...)``."""
    root = tmp / name
    for spec in specs(tmp, problems, optimizers, seeds):
        write_run(root, spec, trace(quality(spec.problem.label, spec.optimizer.label, spec.seed)))
    return root
