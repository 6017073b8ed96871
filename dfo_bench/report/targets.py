"""Fixed-target and fixed-budget views of the stored traces (COCO, IOHanalyzer, Dolan–Moré).

A run *reaches* a target at the first checkpoint whose value is at least as good: the best-so-far
training loss at or below it, the validation accuracy at or above it. Its runtime is what it had
spent by then, in evaluations, forward-equivalent samples or seconds; checkpoints are log-spaced,
so a runtime is known to within one checkpoint interval (an upper bound).

Expected running time (COCO): ERT = (sum over runs of the runtime to the target, or of the whole
run's usage when it never reached it) / number of runs that reached it; infinite when none did.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dfo_bench.problems.metrics import ACCURACY, Metric
from dfo_bench.report.declared import known_metrics

RUNTIME_AXES = ("evaluations", "samples", "seconds")
LADDER = (0.5, 0.8, 0.9, 0.95, 0.99, 1.0)
"""Default targets: these fractions of the way from the median start to the best value reached on the problem."""
PROFILE_RUNG = 0.9
"""The default-ladder rung whose ERT (in samples) the performance profiles compare."""
BUDGET_FRACTIONS = (0.1, 0.5, 1.0)


@dataclass(frozen=True)
class TargetMetric:
    """A traced metric that targets are set on; ``column`` is the trace column (see ``curves``)."""

    name: str
    column: str
    label: str
    higher_is_better: bool
    log: bool


TRAIN_LOSS = TargetMetric("train_loss", "best_train_loss", "best-so-far training loss", False, True)


def validation_target(metric: Metric) -> TargetMetric:
    """Targets on a declared metric are set on its validation values."""
    return TargetMetric(
        f"val_{metric.name}", f"val_{metric.name}", f"validation {metric.label}", metric.higher_is_better, metric.log
    )


def target_metrics(metrics: Iterable[Metric]) -> dict[str, TargetMetric]:
    """The metrics targets can be set on: the training loss, and each given metric's validation values."""
    return {"train_loss": TRAIN_LOSS, **{f"val_{m.name}": validation_target(m) for m in metrics}}


TARGET_METRICS = target_metrics([ACCURACY])
"""A classifier's default targets: the training loss and the validation accuracy."""


def parse_targets(specs: Sequence[str], known: Mapping[str, TargetMetric] | None = None) -> dict[str, list[float]]:
    """``["val_accuracy=0.8,0.9", "train_loss=0.1"]`` -> metric -> targets; ValueError on anything
    else. ``known``: the metrics allowed (default: the training loss and the validation values of
    every metric a registered problem declares)."""
    known = known or target_metrics(known_metrics().values())
    parsed: dict[str, list[float]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip()
        if not sep or name not in known:
            raise ValueError(f"{spec!r}: expected METRIC=V1,V2,... with METRIC one of {', '.join(known)}")
        try:
            numbers = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"{spec!r}: targets must be numbers separated by commas") from None
        if not numbers or not all(math.isfinite(v) for v in numbers):
            raise ValueError(f"{spec!r}: give at least one finite target")
        parsed[name] = sorted(set(numbers), reverse=not known[name].higher_is_better)
    return parsed


def default_ladder(ok: pd.DataFrame, metric: TargetMetric) -> list[float]:
    """Targets from the median value at the first checkpoint to the best value any ok run reached.

    Losses are interpolated geometrically (they span orders of magnitude), accuracies linearly;
    the last rung is the best value reached, so at least one run reaches every target.
    """
    values = ok[metric.column].dropna()
    if values.empty:
        return []
    start = float(ok.loc[ok["checkpoint"] == 0, metric.column].median())
    best = float(values.max() if metric.higher_is_better else values.min())
    if not math.isfinite(start) or start == best:
        return [best]
    if metric.log and start > 0 and best > 0:
        ladder = [start * (best / start) ** q for q in LADDER]
    else:
        ladder = [start + q * (best - start) for q in LADDER]
    return list(dict.fromkeys(ladder))


def reached(values: np.ndarray, target: float, higher_is_better: bool) -> np.ndarray:
    """Which checkpoints meet the target (NaN never does)."""
    with np.errstate(invalid="ignore"):
        return values >= target if higher_is_better else values <= target


def hitting_runtimes(trace: pd.DataFrame, metric: TargetMetric, target: float) -> dict[str, float] | None:
    """Usage (evaluations, samples, seconds) at the first checkpoint reaching the target; None if none does."""
    ordered = trace.sort_values("checkpoint")
    hit = np.flatnonzero(reached(ordered[metric.column].to_numpy(float), target, metric.higher_is_better))
    if not hit.size:
        return None
    row = ordered.iloc[hit[0]]
    return {axis: float(row[axis]) for axis in RUNTIME_AXES}


def expected_running_time(runtimes: Sequence[float | None], totals: Sequence[float]) -> float:
    """COCO's ERT: successful runtimes plus the whole usage of unsuccessful runs, over the successes."""
    successes = [r for r in runtimes if r is not None]
    if not successes:
        return math.inf
    spent = sum(r if r is not None else t for r, t in zip(runtimes, totals, strict=True))
    return spent / len(successes)


def fixed_target_table(
    ok: pd.DataFrame, targets: Mapping[str, Sequence[float]], metrics: Mapping[str, TargetMetric] = TARGET_METRICS
) -> pd.DataFrame:
    """One row per (optimizer, metric, target): runs, successes, success rate, ERT on each axis.

    ``ok`` holds the trace rows of one problem's ok runs (with ``best_train_loss``); ``metrics``
    the problem's target metrics by name.
    """
    rows = []
    for label, part in ok.groupby("optimizer_label", sort=True):
        traces = [t for _, t in part.groupby("run_id")]
        totals = {axis: [float(t[axis].max()) for t in traces] for axis in RUNTIME_AXES}
        for name, values in targets.items():
            metric = metrics[name]
            for target in values:
                hits = [hitting_runtimes(t, metric, target) for t in traces]
                successes = sum(h is not None for h in hits)
                row: dict[str, object] = {"optimizer": label, "metric": name, "target": target, "runs": len(traces)}
                row |= {"successes": successes, "success_rate": successes / len(traces)}
                for axis in RUNTIME_AXES:
                    row[f"ert_{axis}"] = expected_running_time([h[axis] if h else None for h in hits], totals[axis])
                rows.append(row)
    columns = ["optimizer", "metric", "target", "runs", "successes", "success_rate", *(f"ert_{a}" for a in RUNTIME_AXES)]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class Ecdf:
    """Fraction of (run, target) pairs reached by each runtime: COCO's data profile of one optimizer."""

    x: np.ndarray
    fraction: np.ndarray


def runtime_ecdf(ok: pd.DataFrame, metric: TargetMetric, targets: Sequence[float], axis: str) -> dict[str, Ecdf]:
    """Per optimizer: sorted hitting runtimes on ``axis`` and the fraction of all (run, target) pairs
    reached by each, ending at the largest runtime any of its runs used."""
    curves = {}
    for label, part in ok.groupby("optimizer_label", sort=True):
        traces = [t for _, t in part.groupby("run_id")]
        hits = [hitting_runtimes(t, metric, target) for t in traces for target in targets]
        times = np.sort([h[axis] for h in hits if h is not None])
        fractions = np.arange(1, len(times) + 1) / max(len(hits), 1)
        end = max(float(t[axis].max()) for t in traces)  # drawn flat to the end of the runs, as COCO does
        if not times.size or end > times[-1]:
            times, fractions = np.append(times, end), np.append(fractions, fractions[-1] if fractions.size else 0.0)
        curves[str(label)] = Ecdf(times, fractions)
    return curves


def performance_profile(costs: pd.DataFrame, taus: np.ndarray) -> dict[str, np.ndarray]:
    """Dolan–Moré: for each optimizer (column), the fraction of problems (rows) whose cost is within
    a factor tau of the best optimizer's cost on that problem. Infinite / NaN cost = never solved."""
    values = costs.to_numpy(float)
    values = np.where(np.isfinite(values), values, np.inf)
    best = values.min(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(best > 0, values / np.where(best > 0, best, 1.0), np.where(values == 0, 1.0, np.inf))
    ratios = np.where(np.isfinite(values) & np.isfinite(best), scaled, np.inf)
    return {str(c): np.array([(ratios[:, j] <= t).mean() for t in taus]) for j, c in enumerate(costs.columns)}


def budget_axis(run: pd.DataFrame) -> tuple[str, float] | None:
    """The budget that bounded the run: the set limit it used the largest share of, and that limit."""
    last = run.sort_values("checkpoint").iloc[-1]
    shares = {
        axis: float(last[axis]) / float(last[f"budget_{axis}"])
        for axis in RUNTIME_AXES
        if pd.notna(last.get(f"budget_{axis}")) and float(last[f"budget_{axis}"]) > 0
    }
    if not shares:
        return None
    axis = max(shares, key=lambda a: shares[a])
    return axis, float(last[f"budget_{axis}"])


def value_at_budget(run: pd.DataFrame, column: str, fraction: float) -> float:
    """The metric at the last checkpoint within ``fraction`` of the run's budget (NaN if none is)."""
    bound = budget_axis(run)
    if bound is None:
        return math.nan
    axis, limit = bound
    ordered = run.sort_values("checkpoint")
    within = ordered[ordered[axis] <= fraction * limit * (1 + 1e-9)]
    return float(within[column].iloc[-1]) if len(within) else math.nan


def fixed_budget_table(ok: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Median over seeds of each metric at 10 %, 50 % and 100 % of the budget, one row per optimizer."""
    rows = []
    for label, part in ok.groupby("optimizer_label", sort=True):
        row: dict[str, object] = {"optimizer": label}
        runs = [r for _, r in part.groupby("run_id")]
        for column in columns:
            for fraction in BUDGET_FRACTIONS:
                values = [value_at_budget(r, column, fraction) for r in runs]
                row[f"{column}@{fraction:.0%}"] = float(np.nanmedian(values)) if not np.isnan(values).all() else math.nan
        rows.append(row)
    return pd.DataFrame(rows)
