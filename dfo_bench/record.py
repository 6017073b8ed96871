"""The record of one run: what the runner produced and the store writes.

It sits below both (the runner fills it, executors ship it, the store turns it into rows), so
neither has to import the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from dfo_bench.memory import MemoryUse
from dfo_bench.probe import Speed
from dfo_bench.problems.metrics import Metric
from dfo_bench.seeding import derive_seed
from dfo_bench.spec import RunSpec


@dataclass
class RunResult:
    """What a run produced: one trace row per checkpoint, the final state, and how it ended."""

    spec: RunSpec
    run_seed: int
    started_at: str
    device: str
    dim: int | None = None
    metrics: tuple[Metric, ...] | None = None
    """The metrics the problem declares (``Problem.reported_metrics``), stored with the run so that
    the report reads them without loading the problem (None: a run that never started)."""
    search_dim: int | None = None
    """Coordinates the optimizer searched (``dim`` unless the space is blocked)."""
    pretrain: dict[str, Any] | None = None
    """Cost of the pre-training the run started from (evaluations, samples, seconds, cached)."""
    setup_seconds: float | None = None
    """Wall seconds before the run's clock started: building the problem (loading its data),
    pre-training or reading its cache, compiling or loading kernels, building the optimizer."""
    speed: Speed | None = None
    """The machine-speed probe taken at the run's start, outside its clock."""
    memory: MemoryUse | None = None
    """Peak resident set (and CUDA allocations) from the run's start to its end (``dfo_bench.memory``)."""
    trace: list[dict[str, Any]] = field(default_factory=list)
    """Numbers, and for typed problems the recommended configuration as JSON (``config``)."""
    error: str | None = None
    reference_point: list[float] | None = None
    """With several objectives, the problem's hypervolume reference point (stored with the run)."""

    @property
    def status(self) -> str:
        return "failed" if self.error else "ok"


def failed_result(spec: RunSpec, error: str | None) -> RunResult:
    """A result with no trace: how a run that never finished is stored (its worker died), and
    what ``execute`` starts from (``error`` None)."""
    run_seed = derive_seed(spec.seed, "optimizer", spec.problem.name, spec.optimizer.name)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return RunResult(spec=spec, run_seed=run_seed, started_at=started, device=spec.device, error=error)
