"""What the results folder holds besides run traces, typed: a stored run's summary, the marker of
a run being executed (its claim), a tuning study's record, and a file the folder cannot use.

Their JSON keys and Parquet columns are the on-disk format: existing folders must stay readable,
so fields only ever gain defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

TUNING = "tuning"
EVALUATION = "evaluation"
"""A run's phase: a tuning study's trial run, or a run the report's tables show."""


@dataclass(frozen=True)
class StoredRun:
    """A stored run without its trace: enough to count and group it."""

    run_id: str
    problem_label: str
    optimizer_label: str
    seed: int
    phase: str
    """``evaluation`` or ``tuning`` (files written before tuning existed are evaluation runs)."""
    status: str
    """``ok`` or ``failed``."""
    error: str | None = None
    """Why a failed run failed (the exception, in one line)."""


@dataclass(frozen=True)
class RunningMarker:
    """A run being executed, and the claim its worker holds on it: written by the worker when it
    starts (no other process runs the run while the claim is live), touched while it runs, removed
    when it ends."""

    run_id: str
    problem_label: str
    optimizer_label: str
    host: str
    pid: int
    started_at: str
    """ISO 8601, UTC, in seconds."""
    owner: str = ""
    """The ``dfo-bench run`` the worker runs for (a claim of the same owner is that run's own
    earlier attempt, which its executor gave up on). Empty in markers of earlier versions."""
    token: str = ""
    """Tells this claim from any later one on the same run (empty in markers of earlier versions)."""

    @property
    def phase(self) -> str:
        # The marker holds no phase; the run id says it (``RunSpec.run_id``).
        return TUNING if "__tuning__" in self.run_id else EVALUATION


@dataclass(frozen=True)
class DamagedFile:
    """A file of the results folder that readers leave out: unreadable, or not what its place holds."""

    path: Path
    reason: str
    """What is wrong, in one line (``unreadable Parquet (...)``, ``not a run file``...)."""


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class StudyTrial(_Record):
    """One asked trial: the sampled values, the runs it needs (one per tuning seed), its score."""

    number: int
    params: dict[str, Any]
    value: float | None = None
    """The mean of ``final_<metric>`` over the tuning seeds; None until scored, or when failed."""
    state: str = "running"
    """running, complete, or failed (a run failed or did not measure the metric)."""
    run_ids: list[str]


class ChosenTrial(_Record):
    """The trial a finished study chose: the best score, the earliest among equals."""

    number: int
    params: dict[str, Any]
    value: float | None


class ExpectedStudy(_Record):
    """A tuned entry of a suite, as ``dfo-bench status`` counts its runs before its study has run."""

    problem_label: str
    optimizer_label: str
    trials: int
    tuning_seeds: list[int]
    evaluation_seeds: list[int]


class ExpectedRuns(_Record):
    """The runs a suite copy expects (``suites/<suite>.expected.json``, written with the copy), so
    that ``dfo-bench status`` counts pending runs without expanding the suite again: expanding
    imports every problem and optimizer (torch: seconds), and needs their data where the copy is
    read. Trusted only while ``copy_digest`` is the copy's."""

    copy_digest: str
    """``hashing.digest`` (64 hex digits) of the suite copy's text it was made with."""
    runs: dict[str, str]
    """run id -> optimizer label, of the runs known before anything runs."""
    studies: list[ExpectedStudy] = []
    """The tuned entries (their runs are known only as their studies go)."""


class StudyRecord(_Record):
    """A tuning study as it stands (``<results>/tuning/<study>.json``): the plan, every trial, the
    choice, and the evaluation runs it led to. Rewritten as trials are asked and scored, so
    ``dfo-bench status`` and the report see a running study too."""

    suite: str
    problem_label: str
    optimizer_label: str
    optimizer: str
    """Registry name of the entry's optimizer."""
    status: str
    """``tuned``, ``in progress``, or ``not tuned (...)`` with the reason."""
    metric: str
    direction: str
    sampler: str
    sampler_seed: int
    trials_requested: int
    include_given: bool = False
    given: dict[str, Any] | None = None
    """The entry's own values of the space's parameters when they were trial 0."""
    tuning_seeds: list[int]
    tuning_budget: dict[str, Any]
    space: dict[str, dict[str, Any]]
    space_text: str = ""
    entry_params: dict[str, Any]
    trials: list[StudyTrial] = []
    best: ChosenTrial | None = None
    evaluation_run_ids: list[str] = []

    @property
    def tuned(self) -> bool:
        return self.status == "tuned"


class PlanGroup(_Record):
    """The estimate for the runs of one (problem, optimizer entry, phase) of a suite."""

    problem_label: str
    optimizer_label: str
    phase: str
    runs: int
    """Runs the estimate was made for (those still to run then)."""
    run_seconds: float
    """Wall seconds of one run: setup, search and checkpoint measurements."""
    search_seconds: float
    """Search seconds of one run: what a stored run's ``seconds`` measures (clock paused at checkpoints)."""


class PlanRecord(_Record):
    """What ``dfo-bench run`` estimated before running a suite (``dfo_bench.executors.plan``) and
    how long it then took, kept beside the suite's copy for the report's estimate-against-actual."""

    suite: str
    made_at: str
    """ISO 8601, UTC, in seconds."""
    device: str
    parallelism: int
    """Runs at once the wall estimate assumed."""
    calibration_seconds: float
    wall_seconds: float | None
    """The estimated wall time of the runs to run; None when some could not be calibrated."""
    groups: list[PlanGroup] = []
    took_seconds: float | None = None
    """The measured wall time of the ``dfo-bench run`` that made the estimate, once it ended."""
