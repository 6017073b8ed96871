"""Executors hand independent runs out and store each result as soon as it exists.

Each run is a picklable ``RunSpec`` handed to a picklable ``RunTask``, so an engine only needs a
``map`` that yields summaries as runs complete: sequential and a local process pool
(``local``), a Dask cluster (``dask``), Slurm through submitit (``slurm``). Resume, identity and
stopping on a signal are the suite loop's (``suite_run``, ``stopping``), not the engines'.
"""

from dfo_bench.executors.base import CLAIMED, Executor, RunSummary, RunTask
from dfo_bench.executors.local import ProcessExecutor, SequentialExecutor
from dfo_bench.executors.suite_run import make_executor, pending_runs, run_suite, settled_states

__all__ = [
    "CLAIMED",
    "Executor",
    "ProcessExecutor",
    "RunSummary",
    "RunTask",
    "SequentialExecutor",
    "make_executor",
    "pending_runs",
    "run_suite",
    "settled_states",
]
