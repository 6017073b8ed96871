"""The one place that decides what a run uses beyond its identity: ``resolve_settings``.

It needs the problem registry (a problem class knows its own super-batch and box from its
validated parameters), so it sits beside the registry, above the run spec that carries its answer;
suite expansion, tuning plans and the conformance kit all call it, and nothing below falls back.
"""

from __future__ import annotations

from dfo_bench.registry import problems
from dfo_bench.spec import OptimizerSpec, ProblemSpec, RunSettings


def resolve_settings(problem: ProblemSpec, optimizer: OptimizerSpec) -> RunSettings:
    """The settings a run of ``optimizer`` on ``problem`` uses, from their validated parameters
    (no data is loaded): the super-batch the entry or the optimizer's class gives (already in
    ``optimizer.super_batch``), else the problem's own, else none; the problem's box."""
    cls = problems.get(problem.name)
    own = cls.super_batch_of(problem.params)
    return RunSettings(
        super_batch=optimizer.super_batch if optimizer.super_batch is not None else own,
        bounds=cls.bounds_of(problem.params),
    )
