"""Executors hand independent runs out and store each result as soon as it exists.

Each run is a picklable ``RunSpec`` handed to a top-level function, so an executor only needs a
``map`` that yields results as they complete: sequential and a local process pool here; a
distributed engine plugs in through the same interface.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol, TypeVar

import yaml
from tqdm import tqdm

from dfo_bench.runner import execute
from dfo_bench.store import ResultStore
from dfo_bench.suite import RunSpec, Suite

T = TypeVar("T")


class Executor(Protocol):
    def map(self, fn: Callable[[RunSpec], T], specs: Iterable[RunSpec]) -> Iterator[T]:
        """Apply fn to every spec, yielding results in completion order."""
        ...


class SequentialExecutor:
    """One run after another in this process."""

    def map(self, fn: Callable[[RunSpec], T], specs: Iterable[RunSpec]) -> Iterator[T]:
        for spec in specs:
            yield fn(spec)


class ProcessExecutor:
    """A local pool of fresh ('spawn') processes, so no torch state leaks between runs."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def map(self, fn: Callable[[RunSpec], T], specs: Iterable[RunSpec]) -> Iterator[T]:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(self.workers, mp_context=context) as pool:
            futures = [pool.submit(fn, spec) for spec in specs]
            try:
                for future in as_completed(futures):
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    status: str
    error: str | None


def run_and_store(spec: RunSpec, root: Path) -> RunSummary:
    """Execute one run and write its result atomically; runs in the executor's worker."""
    result = execute(spec, cache_dir=root / "cache")
    ResultStore(root).write(result)
    return RunSummary(spec.run_id, result.status, result.error)


def pending_runs(suite: Suite, store: ResultStore, retry_failed: bool = False) -> list[RunSpec]:
    """Runs without a stored result (and failed ones, if asked): what a resumed suite still owes."""
    wanted = {"ok", "failed"} - ({"failed"} if retry_failed else set())
    return [spec for spec in suite.runs if store.status(spec.run_id) not in wanted]


def make_executor(kind: str, workers: int) -> Executor:
    return ProcessExecutor(workers) if kind == "process" else SequentialExecutor()


def run_suite(
    suite: Suite, out: str | Path, executor: Executor, retry_failed: bool = False, progress: bool = True
) -> list[RunSummary]:
    """Run every pending run of the suite into ``out``; stored runs are skipped, so this resumes."""
    store = ResultStore(out)
    store.remove_stale_temporaries()
    todo = pending_runs(suite, store, retry_failed)
    store.write_text(f"suites/{suite.name}.yaml", yaml.safe_dump(suite.config.model_dump(mode="json"), sort_keys=False))
    summaries = []
    bar = tqdm(total=len(todo), desc=suite.name, unit="run", disable=not progress)
    for summary in executor.map(partial(run_and_store, root=store.root), todo):
        summaries.append(summary)
        bar.set_postfix_str(f"{summary.run_id.split('__')[1]} {summary.status}")
        bar.update()
    bar.close()
    return summaries
