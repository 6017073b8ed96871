"""Stored traces replayed as TensorBoard scalars, for users who look at runs there.

``dfo-bench export RESULTS --tensorboard DIR`` writes one event-file folder per run,
``DIR/<problem>/<optimizer>/seed<seed>-<config hash>``, with every traced metric as a scalar at
each checkpoint: ``<metric>`` against evaluations (TensorBoard's step) and ``by_samples/<metric>``
against forward-equivalent samples; the wall time of each point is the run's start plus the
seconds it had spent. Needs the ``export`` extra (tensorboardX, no TensorFlow or TensorBoard).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd

from dfo_bench.errors import ConfigError
from dfo_bench.report.load import load_runs


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=,\[\]-]+", "_", text)


def run_folder(root: Path, run: pd.Series) -> Path:
    return (
        root / _safe(str(run["problem_label"])) / _safe(str(run["optimizer_label"])) / f"seed{run['seed']}-{run['config_hash']}"
    )


TRACED = re.compile(r"(train|val|test)_(loss|accuracy|f1|precision|recall|objective_\d+)|best_seen_loss(_\d+)?|hypervolume")
"""The metrics the runner records at each checkpoint (see ``runner._measure``)."""


def trace_columns(trace: pd.DataFrame) -> list[str]:
    """The traced metrics of a run that hold a value (test functions have no accuracy)."""
    return [c for c in trace.columns if TRACED.fullmatch(str(c)) and trace[c].notna().any()]


def _started(run: pd.Series) -> float:
    try:
        return datetime.fromisoformat(str(run["started_at"])).timestamp()
    except ValueError:
        return 0.0


def export_tensorboard(results: Sequence[Path], out: Path, problems: Sequence[str] = (), optimizers: Sequence[str] = ()) -> int:
    """Write the event files of every stored run (ok and failed); returns the number of runs written.

    Each run's folder is written beside its final place and renamed into it, so an interrupted
    export never leaves a half run; an existing folder of the same run is replaced.
    """
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ConfigError("--tensorboard: needs tensorboardX; install it with: pip install 'dfo-bench[export]'") from None
    runs = load_runs(results, problems, optimizers).runs
    count = 0
    for _, trace in runs.groupby("run_id", sort=True):
        trace = trace.sort_values("checkpoint")
        first = trace.iloc[0]
        final = run_folder(Path(out), first)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        start = _started(first)
        with SummaryWriter(logdir=str(tmp)) as writer:
            writer.add_text("run", f"{first['run_id']} ({first['status']})")
            for column in trace_columns(trace):
                for _, row in trace.dropna(subset=[column]).iterrows():
                    walltime = start + float(row["seconds"])
                    writer.add_scalar(column, float(row[column]), int(row["evaluations"]), walltime=walltime)
                    writer.add_scalar(f"by_samples/{column}", float(row[column]), int(row["samples"]), walltime=walltime)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        count += 1
    return count
