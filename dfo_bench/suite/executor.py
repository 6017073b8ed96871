"""The ``executor:`` block of a suite: which executor runs the suite's runs, and its options."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationInfo, field_validator, model_validator

EXECUTOR_FIELDS: dict[str, tuple[str, ...]] = {
    "sequential": (),
    "process": ("workers", "retries"),
    "dask": ("address", "workers", "threads_per_worker", "memory_limit", "retries"),
    "slurm": ("cluster", "partition", "time_min", "cpus_per_run", "gpus_per_run", "mem_gb", "array_parallelism", "retries"),
}
"""The fields each executor kind takes (besides ``kind``; slurm also takes ``slurm_*`` options)."""


def slurm_options() -> list[str] | None:
    """The ``slurm_*`` options submitit's SlurmExecutor passes to sbatch; None without submitit
    (then the options are checked when the executor starts)."""
    try:
        from submitit.slurm.slurm import SlurmExecutor
    except ImportError:
        return None
    return sorted(f"slurm_{name}" for name in SlurmExecutor._valid_parameters())


class ExecutorConfig(BaseModel):
    """How the runs of a suite are executed; each kind takes its own fields (``EXECUTOR_FIELDS``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: Literal["sequential", "process", "dask", "slurm"] = "sequential"
    workers: int = Field(2, ge=1, le=1024)
    """process: pool size; dask: workers of the LocalCluster started when no address is given."""
    retries: int = Field(1, ge=0, le=100)
    """How many times a run whose worker died (killed, out of memory) is run again before it is stored as failed."""
    address: StrictStr | None = Field(None, min_length=1)
    """dask: an existing scheduler (``tcp://host:8786``); None starts a LocalCluster."""
    threads_per_worker: int = Field(1, ge=1, le=1024)
    memory_limit: StrictStr | StrictInt | None = None
    """dask LocalCluster: memory per worker, bytes or a size like ``4GiB``; None: dask's ``auto``."""
    cluster: Literal["slurm", "local"] = "slurm"
    """slurm: ``local`` runs the same job submissions on this machine (submitit's local mode)."""
    partition: StrictStr | None = Field(None, min_length=1)
    time_min: int = Field(60, ge=1, le=10**6)
    """slurm: time limit of one run's job, minutes (a job cut by it is requeued)."""
    cpus_per_run: int = Field(1, ge=1, le=1024)
    gpus_per_run: int | None = Field(None, ge=0, le=64)
    """slurm: None: 1 when the suite's device is cuda, else 0."""
    mem_gb: float | None = Field(None, gt=0, le=1e6)
    array_parallelism: int = Field(64, ge=1, le=10**6)
    """slurm: runs of the suite's job array running at once."""
    extra_slurm: dict[str, Any] = {}
    """slurm: the suite's ``slurm_*`` options, passed to submitit as they are (``slurm_qos``, ``slurm_account``, ...)."""

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        """``slurm_*`` keys are gathered into ``extra_slurm`` (known to submitit, when it is installed);
        any other unknown key is refused with the keys allowed."""
        if not isinstance(data, dict):
            return data
        given = {key: value for key, value in data.items() if not str(key).startswith("slurm_")}
        extra = {str(key): value for key, value in data.items() if str(key).startswith("slurm_")}
        known = slurm_options()
        for key in extra:
            if data.get("kind") != "slurm":
                raise ValueError(f"unknown field '{key}' (slurm_* options are for kind slurm)")
            if known is not None and key not in known:
                raise ValueError(f"unknown field '{key}'; allowed slurm_* options: {', '.join(known)}")
        unknown = [key for key in given if key not in cls.model_fields or key == "extra_slurm"]
        if unknown:
            kind = data.get("kind", "sequential")
            allowed = ", ".join(["kind", *EXECUTOR_FIELDS.get(kind, ())] + (["slurm_*"] if kind == "slurm" else []))
            raise ValueError(f"unknown field '{unknown[0]}'; allowed: {allowed}")
        return given | ({"extra_slurm": extra} if extra else {})

    @field_validator(*{field for fields in EXECUTOR_FIELDS.values() for field in fields}, mode="after")
    @classmethod
    def _field_of_the_kind(cls, value: Any, info: ValidationInfo) -> Any:
        """A field of another kind is refused, unless it holds its default (a stored suite lists every field)."""
        kind = info.data.get("kind")
        field = info.field_name or ""
        if kind in EXECUTOR_FIELDS and field not in EXECUTOR_FIELDS[kind] and value != cls.model_fields[field].default:
            owners = " and ".join(k for k, fields in EXECUTOR_FIELDS.items() if field in fields)
            allowed = ", ".join(EXECUTOR_FIELDS[kind]) or "no other field"
            raise ValueError(f"a field of kind {owners}, not of {kind}; allowed for {kind}: {allowed}")
        return value

    @field_validator("memory_limit")
    @classmethod
    def _size(cls, value: str | int | None) -> str | int | None:
        if isinstance(value, int) and value < 0:
            raise ValueError("a memory size is not negative")
        if isinstance(value, str) and value != "auto" and not re.fullmatch(r"\d+(\.\d+)?\s*([kKMGTP]i?)?B", value):
            raise ValueError(f"not a memory size ({value!r}); allowed: bytes, or a size like 4GiB, 500MB, or auto")
        return value

    def options(self) -> dict[str, Any]:
        """The fields given for this kind (defaults left out): what the CLI shows and overrides."""
        return (
            {"kind": self.kind}
            | {field: getattr(self, field) for field in EXECUTOR_FIELDS[self.kind] if field in self.model_fields_set}
            | self.extra_slurm
        )
