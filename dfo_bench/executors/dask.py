"""Runs on a Dask cluster (``dask.distributed``): an existing scheduler, or a LocalCluster.

One task per run, keyed by its run id (a scheduler that already holds the key, e.g. from an
interrupted client, computes it once). Where the workers see the results folder (a shared file
system; always for a LocalCluster) they claim each run and write its result there atomically;
where they do not, they return it and this client writes it (and nothing is claimed: another
suite on the same folder may run the same run). A worker that dies while running a task makes the
scheduler run it elsewhere, up to ``retries`` times (dask's ``allowed-failures``), then the run
is stored as failed. With a cuda suite every task asks for the ``GPU`` resource, so a worker runs
one run per GPU it declares (``dask worker --resources GPU=1``).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Generator, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import dask
from distributed import Client, Future, LocalCluster, as_completed
from distributed.scheduler import KilledWorker

from dfo_bench.executors.base import RunSummary, RunTask, Say, lost, say_on_stderr
from dfo_bench.spec import RunSpec


def sees_folder(client: Client, root: Path) -> bool:
    """Whether every worker sees ``root``: a probe file written here, looked for there."""
    probe = root / f".dask-probe-{uuid.uuid4().hex}"
    probe.write_text("")
    try:
        seen = client.run(os.path.exists, str(probe))
    finally:
        probe.unlink(missing_ok=True)
    return bool(seen) and all(seen.values())


class DaskExecutor:
    def __init__(
        self,
        address: str | None = None,
        workers: int = 2,
        threads_per_worker: int = 1,
        memory_limit: str | int | None = None,
        retries: int = 1,
        gpu: bool = False,
    ) -> None:
        self.address = address
        self.workers = workers
        self.threads_per_worker = threads_per_worker
        self.memory_limit = memory_limit
        self.retries = retries
        self.gpu = gpu
        self._client: Client | None = None

    def running(self) -> int | None:
        """Tasks the workers are processing (what the markers cannot show when the folder is not shared)."""
        client = self._client
        if client is None or client.status != "running":
            return None
        try:
            return sum(len(tasks) for tasks in client.processing().values())
        except Exception:  # the scheduler went away: nothing to show
            return None

    def _connect(self) -> tuple[Client, LocalCluster | None, str]:
        if self.address is not None:
            return Client(self.address, timeout="30s"), None, f"dask scheduler {self.address}"
        # The scheduler reads allowed-failures when it starts: set it for this LocalCluster's.
        with dask.config.set({"distributed.scheduler.allowed-failures": self.retries}):
            cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=self.threads_per_worker,
                memory_limit=self.memory_limit if self.memory_limit is not None else "auto",
                processes=True,
                dashboard_address=None,
                resources={"GPU": 1} if self.gpu else None,
                silence_logs=logging.CRITICAL,
            )
        where = f"dask LocalCluster ({self.workers} workers × {self.threads_per_worker} threads)"
        return Client(cluster), cluster, where

    def map(self, task: RunTask, specs: Iterable[RunSpec], say: Say = say_on_stderr) -> Generator[RunSummary, None, None]:
        client, cluster, where = self._connect()
        self._client = client
        futures: dict[Future, RunSpec] = {}
        try:
            shared = sees_folder(client, task.store.root)
            task = replace(task, shared=shared)
            how = (
                "the workers write results into the shared results folder"
                if shared
                else "the workers do not see the results folder: they return results and this client writes them"
            )
            say(f"{where}: {how}")
            extra: dict[str, Any] = {"resources": {"GPU": 1}} if self.gpu else {}
            futures = {client.submit(task, spec, key=f"run-{spec.run_id}", pure=False, **extra): spec for spec in specs}
            for future in as_completed(futures):
                spec = futures[future]
                try:
                    summary = future.result()
                except KilledWorker:
                    summary = lost(spec, f"its worker died {self.retries + 1} times while running it (dask KilledWorker)")
                except Exception as exc:  # the task itself failed (e.g. the results folder is full)
                    summary = lost(spec, f"{type(exc).__name__}: {exc}")
                yield summary
        finally:
            self._client = None
            try:
                if futures:
                    client.cancel(list(futures), force=True)
            finally:
                client.close(timeout=5)
                if cluster is not None:
                    cluster.close(timeout=10)
