"""Run specs: one frozen, typed description of everything that determines a run's result.

A suite expands into ``RunSpec``s; executors ship them to workers; the runner builds the run
from one; the store files its result under ``run_id``. The id hashes the canonical JSON of the
spec's ``identity``: registry names, class versions, the parameters that differ from their
defaults (data locations by a fingerprint of their content), seed, budget and protocol. So the
same suite on the same data has the same ids on every machine, a new parameter whose default
keeps the old behaviour leaves stored results valid, and bumping a class's ``version``
invalidates them on purpose.

A tuning run (``tuning`` set: a trial of a hyper-parameter study, on a tuning seed) has
``phase: tuning`` in its identity, so it never shares an id with an evaluation run; its trial
number is not part of the identity (two trials that sample the same values share their runs).

What a run uses is decided here once, when its spec is made: ``resolve_settings`` turns the
problem's and the optimizer entry's specs into ``RunSettings`` (the effective super-batch, the
problem's box), which the runner, the objective, the optimizers and the store take as given. The
settings follow from the identity, so they are not hashed: a spec's id is what it was before.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny

from dfo_bench.budget import BudgetLimits
from dfo_bench.hashing import digest
from dfo_bench.params import ParamsModel
from dfo_bench.space_config import FullSpaceConfig, SpaceConfig

SEED_LIMIT = 2**63
"""Seeds are non-negative 63-bit integers (what NumPy's and torch's generators accept)."""


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Component(Frozen):
    """A validated problem or optimizer: registry name, class version, display label, parameters."""

    name: str
    label: str
    params: SerializeAsAny[ParamsModel]
    version: int = 1

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "params": self.params.identity()}


class PretrainSpec(Frozen):
    """A hybrid start: the problem's weights trained by a gradient optimizer for ``epochs`` passes."""

    optimizer: Component
    epochs: float = Field(gt=0)
    """Passes over the training set, charged as 3 forward-equivalent samples per sample."""

    def identity(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.identity(), "epochs": self.epochs}


class ProblemSpec(Component):
    pretrain: PretrainSpec | None = None
    """None: the problem's seeded initial weights."""

    def identity(self) -> dict[str, Any]:
        return super().identity() | ({"pretrain": self.pretrain.identity()} if self.pretrain else {})


class OptimizerSpec(Component):
    space: SpaceConfig = FullSpaceConfig()
    """Where the optimizer searches."""
    super_batch: int | None = Field(None, ge=1)
    """Training samples per evaluation (circular super-batches), as the entry or the optimizer's
    class gives it: part of the identity. None: the problem decides (``RunSettings.super_batch``
    holds what the run uses)."""

    def identity(self) -> dict[str, Any]:
        space = self.space.model_dump(mode="json", exclude_defaults=True)
        return (
            super().identity()
            | ({"space": space} if space else {})
            | ({"super_batch": self.super_batch} if self.super_batch is not None else {})
        )


class TuningTag(Frozen):
    """Marks a run as part of a tuning study: which trial asked for it and what it is scored on."""

    trial: int = Field(ge=0)
    """The study's trial number that first asked for this run."""
    metric: str
    """The metric the study scores trials on (``final_<metric>`` of the stored run)."""


class RunSettings(Frozen):
    """What a run uses besides its components' parameters, resolved once (``dfo_bench.settings.resolve_settings``)."""

    super_batch: int | None = Field(None, ge=1)
    """Training samples each evaluation is scored on, circular chunks of a seeded shuffle; None:
    the whole training set (or a problem without one)."""
    bounds: tuple[float, float] | None = None
    """The problem's box (low, high) on every coordinate (ZDT1's [0, 1]); None: unbounded weights."""


class RunSpec(Frozen):
    """One independent run: everything that determines its result, and how it is executed."""

    suite: str
    problem: ProblemSpec
    optimizer: OptimizerSpec
    seed: int = Field(ge=0, lt=SEED_LIMIT)
    budget: BudgetLimits
    """The effective budget: the entry's own or the suite's."""
    settings: RunSettings
    """What the run uses, derived from ``problem`` and ``optimizer`` (``dfo_bench.settings.resolve_settings``): not
    part of the identity, which already determines it."""
    checkpoints: int = Field(25, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(1, ge=1)
    """torch threads of the run (how it runs, not what it computes: not part of the id)."""
    tuning: TuningTag | None = None
    """None: an evaluation run (what the report's tables show); else a tuning run."""

    @property
    def phase(self) -> str:
        return "evaluation" if self.tuning is None else "tuning"

    def identity(self) -> dict[str, Any]:
        """The canonical description of what determines the result."""
        return {
            "problem": self.problem.identity(),
            "optimizer": self.optimizer.identity(),
            "seed": self.seed,
            "budget": self.budget.model_dump(mode="json", exclude_none=True),
            "checkpoints": self.checkpoints,
            "device": self.device,
        } | ({"phase": "tuning"} if self.tuning is not None else {})

    @cached_property
    def config_hash(self) -> str:
        """Identifies the run's result: same hash, same configuration (computed once per spec:
        data fingerprints read files)."""
        return digest(self.identity())

    @property
    def run_id(self) -> str:
        phase = "__tuning" if self.tuning is not None else ""
        return f"{self.problem.label}__{self.optimizer.label}{phase}__seed{self.seed}__{self.config_hash}"
