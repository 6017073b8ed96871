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
from dfo_bench.report.speed import speed_factors

RUNTIME_AXES = ("evaluations", "samples", "seconds")
STEPS = "steps"
"""A control problem's environment steps: each is charged as a sample too (``Budget.charge_steps``),
so its samples axis counts environment steps, and a ``steps:`` budget bounds its runs."""
SAMPLES = "forward-equivalent samples"
ENVIRONMENT_STEPS = "environment steps"
LADDER = (0.5, 0.8, 0.9, 0.95, 0.99, 1.0)
"""Default targets: these fractions of the way from the median start to the best value reached on the problem."""
PROFILE_RUNG = 0.9
"""The default-ladder rung whose ERT (in samples) the performance profiles compare."""
BUDGET_FRACTIONS = (0.1, 0.5, 1.0)
NORMALISED = "seconds_normalised"
"""Seconds rescaled by each run's speed probe (``speed.speed_factors``): the ERT's fourth axis."""


@dataclass(frozen=True)
class TargetMetric:
    """A traced metric that targets are set on; ``column`` is the trace column (see ``curves``)."""

    name: str
    column: str
    label: str
    higher_is_better: bool
    log: bool


TRAIN_LOSS = TargetMetric("train_loss", "best_train_loss", "best-so-far training loss", False, True)


def samples_unit(runs: pd.DataFrame) -> str:
    """What the samples axis of these runs counts: a control problem's environment steps (its runs
    record ``steps``), else forward-equivalent samples."""
    return ENVIRONMENT_STEPS if STEPS in runs and runs[STEPS].notna().any() else SAMPLES


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
    every metric a registered problem declares, asked only when there are specs)."""
    if not specs:
        return {}
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


def first_hits(ok: pd.DataFrame, metric: TargetMetric, target: float, axes: Sequence[str] = RUNTIME_AXES) -> pd.DataFrame:
    """Per run reaching the target (index ``run_id``): its usage (``axes``) at the first
    checkpoint that does; runs that never do are absent. One pass over all runs."""
    ordered = ok.sort_values(["run_id", "checkpoint"], kind="stable")
    hit = reached(ordered[metric.column].to_numpy(float), target, metric.higher_is_better)
    return ordered.loc[hit, ["run_id", *axes]].groupby("run_id", sort=True).head(1).set_index("run_id").astype(float)


def with_normalised_seconds(ok: pd.DataFrame) -> pd.DataFrame:
    """Adds ``seconds_normalised``: each checkpoint's seconds rescaled by its run's speed probe to
    the median probe of the runs (``speed.speed_factors``; NaN for runs stored without a probe)."""
    factors = speed_factors(ok.drop_duplicates("run_id").set_index("run_id"))
    return ok.assign(seconds_normalised=ok["seconds"].astype(float) * ok["run_id"].map(factors).astype(float))


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
    the problem's target metrics by name. ``ert_seconds_normalised``: the ERT in seconds rescaled
    to the problem's median speed probe (``with_normalised_seconds``; NaN when a run has no probe).
    """
    rows = []
    axes = (*RUNTIME_AXES, NORMALISED)
    ok = with_normalised_seconds(ok) if len(ok) else ok.assign(seconds_normalised=np.nan)
    for label, part in ok.groupby("optimizer_label", sort=True):
        ids = sorted(part["run_id"].unique())
        totals = part.groupby("run_id")[list(axes)].max().astype(float).loc[ids]
        for name, values in targets.items():
            metric = metrics[name]
            for target in values:
                found = first_hits(part, metric, target, axes)
                hit, hits = pd.Index(ids).isin(found.index), found.reindex(ids)  # hashed: np.isin sorts strings
                successes = int(hit.sum())
                row: dict[str, object] = {"optimizer": label, "metric": name, "target": target, "runs": len(ids)}
                row |= {"successes": successes, "success_rate": successes / len(ids)}
                for axis in axes:
                    runtimes = [float(v) if h else None for v, h in zip(hits[axis].to_numpy(float), hit, strict=True)]
                    row[f"ert_{axis}"] = expected_running_time(runtimes, list(totals[axis].to_numpy(float)))
                rows.append(row)
    columns = ["optimizer", "metric", "target", "runs", "successes", "success_rate", *(f"ert_{a}" for a in axes)]
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
        ends = part.groupby("run_id")[axis].max()
        pairs = len(ends) * len(targets)
        times = np.sort(
            np.concatenate([first_hits(part, metric, target)[axis].to_numpy(float) for target in targets] or [np.array([])])
        )
        fractions = np.arange(1, len(times) + 1) / max(pairs, 1)
        end = max(float(v) for v in ends)  # drawn flat to the end of the runs, as COCO does
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


def budget_bounds(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run (index ``run_id``, in order): the budget that bounded it, the set limit it used the
    largest share of (``axis``, None when no limit is set), and that ``limit``."""
    last = runs.sort_values(["run_id", "checkpoint"], kind="stable").groupby("run_id", sort=True).tail(1).set_index("run_id")
    shares = pd.DataFrame(index=last.index)
    for axis in _budget_axes(last):
        limit = pd.to_numeric(last.get(f"budget_{axis}", pd.Series(np.nan, index=last.index)), errors="coerce").astype(float)
        shares[axis] = (last[axis].astype(float) / limit).where(limit > 0)
    known = shares.notna().any(axis=1)
    chosen = shares[known].astype(float).idxmax(axis=1)  # the first axis of the largest share, as max() takes it
    bounds = pd.DataFrame({"axis": pd.Series(None, index=last.index, dtype=object), "limit": np.nan})
    for axis in _budget_axes(last):
        at = chosen.index[chosen == axis]
        bounds.loc[at, "axis"] = axis
        bounds.loc[at, "limit"] = last.loc[at, f"budget_{axis}"].astype(float)
    return bounds


def _budget_axes(runs: pd.DataFrame) -> tuple[str, ...]:
    """The usage columns a budget can bound: a control problem's environment steps besides the rest."""
    return (*RUNTIME_AXES, STEPS) if STEPS in runs else RUNTIME_AXES


def values_at_budget(runs: pd.DataFrame, column: str, fraction: float) -> pd.Series:
    """Per run (index ``run_id``, in order): the metric at the last checkpoint within ``fraction``
    of its budget (NaN if none is, or the run had no budget set)."""
    ordered = runs.sort_values(["run_id", "checkpoint"], kind="stable")
    bounds = budget_bounds(ordered)
    axis = ordered["run_id"].map(bounds["axis"])
    limit = ordered["run_id"].map(bounds["limit"]).to_numpy(float)
    spent = np.full(len(ordered), np.nan)
    for name in _budget_axes(ordered):
        mine = (axis == name).to_numpy()
        spent[mine] = ordered[name].to_numpy(float)[mine]
    with np.errstate(invalid="ignore"):
        within = spent <= fraction * limit * (1 + 1e-9)
    last = ordered.loc[within, ["run_id", column]].groupby("run_id", sort=True).tail(1).set_index("run_id")[column]
    return last.astype(float).reindex(bounds.index)


def value_at_budget(run: pd.DataFrame, column: str, fraction: float) -> float:
    """The metric at the last checkpoint within ``fraction`` of the run's budget (NaN if none is)."""
    return float(values_at_budget(run, column, fraction).iloc[0])


def fixed_budget_table(ok: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Median over seeds of each metric at 10 %, 50 % and 100 % of the budget, one row per optimizer."""
    rows = []
    for label, part in ok.groupby("optimizer_label", sort=True):
        row: dict[str, object] = {"optimizer": label}
        for column in columns:
            for fraction in BUDGET_FRACTIONS:
                values = values_at_budget(part, column, fraction).to_numpy(float)
                row[f"{column}@{fraction:.0%}"] = float(np.nanmedian(values)) if not np.isnan(values).all() else math.nan
        rows.append(row)
    return pd.DataFrame(rows)
