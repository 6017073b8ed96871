"""Everything the report says about one problem, and across problems, computed from the stored rows.

Rendering (Markdown, HTML, LaTeX, figures) only formats what is computed here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dfo_bench.hashing import digest
from dfo_bench.report.cost import cost_table
from dfo_bench.report.curves import convergence_curves, with_best_train_loss
from dfo_bench.report.declared import Declared, declared_metrics
from dfo_bench.report.figures import (
    X_LABELS,
    FigureData,
    Reference,
    Style,
    convergence_figures,
    ecdf_figure,
    profile_figure,
)
from dfo_bench.report.meta import budget_text, run_configurations
from dfo_bench.report.pareto import ParetoAnalysis, analyse_pareto
from dfo_bench.report.references import RESULT, TARGET, reference_rows, references_for
from dfo_bench.report.speed import SpeedCheck, check_speed
from dfo_bench.report.start import StartAnalysis, analyse_start
from dfo_bench.report.stats import Friedman, Significance, friedman, paired_matrix, significance, stratified_ci
from dfo_bench.report.tables import FinalMetric, failed_runs, final_rows, primary_metric, summary_table
from dfo_bench.report.targets import (
    LADDER,
    PROFILE_RUNG,
    TargetMetric,
    default_ladder,
    fixed_budget_table,
    fixed_target_table,
    performance_profile,
    runtime_ecdf,
    samples_unit,
    target_metrics,
)

ECDF_AXIS = "samples"
"""Data profiles are drawn against forward-equivalent samples: comparable between gradient and
gradient-free methods, whose evaluations cost different numbers of samples."""


def file_stem(problem: str) -> str:
    """A file-name-safe stem; labels that needed changing get a hash so two never share a file."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", problem)
    return slug if slug == problem else f"{slug}-{digest(problem, 8)}"


@dataclass(frozen=True)
class ProblemAnalysis:
    """What the report shows for one problem."""

    problem: str
    """The problem's label (one section per label)."""
    budget: str
    samples_unit: str
    """What its samples count: forward-equivalent samples, or a control problem's environment steps."""
    metric: FinalMetric
    declared: Declared
    """The metrics the problem declares, as the tables and figures show them."""
    table: pd.DataFrame
    """Numeric summary (``tables.summary_table``) plus ``not_worse`` (bool, None when untested)."""
    significance: Significance
    references: pd.DataFrame
    """Published rows for this problem (``references.reference_rows``), possibly empty."""
    reference_protocols: list[str]
    failed: pd.DataFrame
    configurations: pd.DataFrame
    targets: dict[str, list[float]]
    target_metrics: dict[str, TargetMetric]
    """The metrics targets can be set on for this problem, by name."""
    targets_note: str
    fixed_target: pd.DataFrame
    fixed_budget: pd.DataFrame
    convergence: list[FigureData]
    ecdfs: list[FigureData]
    profile_costs: pd.Series
    """ERT in samples to the profile target, per optimizer (inf: never reached)."""
    speed: SpeedCheck
    """Whether the runs' seconds can be compared (machines, speed probes, a seconds budget)."""
    cost: pd.DataFrame
    """Evaluations per second and peak memory per optimizer (``cost.cost_table``)."""
    pareto: ParetoAnalysis | None = None
    """Hypervolume and attained fronts, for a problem with several objectives."""
    start: StartAnalysis | None = None
    """Final against each run's own start, for runs from pre-trained weights."""

    @property
    def samples_header(self) -> str:
        """Its samples' name in a header or title: "samples", or "environment steps"."""
        return self.samples_unit.removeprefix("forward-equivalent ")


def _reference_lines(matching: pd.DataFrame) -> dict[str, list[Reference]]:
    lines: dict[str, list[Reference]] = {}
    for row in matching.to_dict("records"):
        label = f"published, not re-run: {row['optimizer']} {float(row['value']):g}"
        lines.setdefault(str(row["metric"]), []).append(Reference(label, float(row["value"])))
    return lines


def _targets(
    ok: pd.DataFrame, given: Mapping[str, Sequence[float]], declared: Declared
) -> tuple[dict[str, list[float]], dict[str, TargetMetric], str]:
    """Targets per metric: those given (on a metric this problem has), else a ladder on the training
    loss and the primary metric's validation values; with the problem's target metrics and a note."""
    metrics = target_metrics(declared.metrics)
    derived_on = {"train_loss"} | ({f"val_{declared.primary.name}"} if declared.metrics else set())
    targets: dict[str, list[float]] = {}
    for name, metric in metrics.items():
        if name in given:
            targets[name] = list(given[name])
        elif name in derived_on and metric.column in ok and ok[metric.column].notna().any():
            targets[name] = default_ladder(ok, metric)
    derived = [n for n in targets if n not in given]
    note = (
        "Targets given with --targets."
        if not derived
        else (
            "Targets "
            + ("for " + ", ".join(derived) + " " if given else "")
            + "derived from this problem: "
            + ", ".join(f"{q:.0%}" for q in LADDER)
            + " of the way from the median value at the first checkpoint to the best value any run reached "
            "(losses geometrically). Override with --targets METRIC=V1,V2,..."
        )
    )
    return targets, metrics, note


def _with_published(
    targets: Mapping[str, list[float]], metrics: Mapping[str, TargetMetric], matching: pd.DataFrame
) -> tuple[dict[str, list[float]], str]:
    """The targets with the published ones (``kind`` target) of a metric this problem traces
    added, easiest first; and a sentence naming them ("" when there are none)."""
    rows = matching[(matching["kind"] == TARGET) & matching["metric"].isin(list(metrics))].to_dict("records")
    out = {name: list(values) for name, values in targets.items()}
    for row in rows:
        metric = metrics[str(row["metric"])]
        values = {*out.get(metric.name, []), float(row["value"])}
        out[metric.name] = sorted(values, reverse=not metric.higher_is_better)
    named = [f"{row['metric']} = {float(row['value']):g} ({row['source']}: {row['protocol']})" for row in rows]
    return out, ("Published targets added: " + "; ".join(named) + ". " if named else "")


def _environment(runs: pd.DataFrame) -> str | None:
    """The gymnasium id of a control problem's runs (None for other problems)."""
    if "problem_params" not in runs:
        return None
    params = json.loads(str(runs["problem_params"].iloc[0]))
    return str(params["env"]) if isinstance(params, dict) and params.get("env") else None


def _profile_cost(fixed_target: pd.DataFrame, targets: Mapping[str, list[float]], declared: Declared) -> pd.Series:
    """ERT (samples) per optimizer to the problem's profile target: the ``PROFILE_RUNG`` rung of the
    default ladder of the primary metric's validation values (training loss where the problem
    declares none), or the hardest target given with --targets."""
    for name in (f"val_{declared.primary.name}", "train_loss"):
        ladder = targets.get(name)
        if ladder:
            target = ladder[LADDER.index(PROFILE_RUNG)] if len(ladder) == len(LADDER) else ladder[-1]
            rows = fixed_target[(fixed_target["metric"] == name) & np.isclose(fixed_target["target"], target)]
            return rows.set_index("optimizer")["ert_samples"]
    return pd.Series(dtype=float)


def analyse_problem(
    problem: str, runs: pd.DataFrame, styles: Mapping[str, Style], given_targets: Mapping[str, Sequence[float]]
) -> ProblemAnalysis:
    """Tables, tests, fixed-target and fixed-budget views and figures of one problem's runs."""
    finals = final_rows(runs)
    declared = declared_metrics(str(runs["problem"].iloc[0]), runs)
    metric = primary_metric(finals, declared)
    table = summary_table(finals, metric, declared)
    labels = list(table["optimizer"])
    sig = significance(paired_matrix(finals, metric.column, labels), metric.higher_is_better)
    marks = pd.Series([(label in sig.not_worse) if sig.powered else None for label in labels], index=table.index, dtype=object)
    table = table.assign(not_worse=marks)
    matching = references_for(str(runs["problem"].iloc[0]), _environment(runs))
    results = matching[matching["kind"] == RESULT]
    ok = with_best_train_loss(runs[runs["status"] == "ok"])
    unit = samples_unit(runs)
    ladders, metrics, targets_note = _targets(ok, given_targets, declared)
    targets, published = _with_published(ladders, metrics, matching)
    fixed_target = fixed_target_table(ok, targets, metrics)
    plotted = list(table.loc[table["seeds_ok"] > 0, "optimizer"])
    stem = file_stem(problem)
    convergence = (
        convergence_figures(
            convergence_curves(runs, plotted, [c for c, _, _ in declared.traced()]),
            styles,
            problem,
            f"convergence-{stem}",
            _reference_lines(results),
            {c: (label, m.log) for c, label, m in declared.traced()},
            {**X_LABELS, "samples": unit},
        )
        if plotted
        else []
    )
    ecdfs = [
        ecdf_figure(
            runtime_ecdf(ok, metrics[name], values, ECDF_AXIS),
            styles,
            f"runtime ECDF over {len(values)} {metrics[name].label} targets",
            unit,
            f"ecdf-{stem}-{name.replace('_', '-')}",
            problem,
        )
        for name, values in targets.items()
        if plotted and values
    ]
    return ProblemAnalysis(
        problem=problem,
        budget=budget_text(runs),
        samples_unit=unit,
        metric=metric,
        declared=declared,
        table=table,
        significance=sig,
        references=reference_rows(results),
        reference_protocols=sorted({f"{r['optimizer']}, {r['source']}: {r['protocol']}" for r in results.to_dict("records")}),
        failed=failed_runs(finals),
        configurations=run_configurations(runs),
        targets=targets,
        target_metrics=metrics,
        targets_note=published + targets_note,
        fixed_target=fixed_target,
        fixed_budget=fixed_budget_table(ok, [c for c, _, _ in declared.traced() if c in ok and ok[c].notna().any()]),
        convergence=convergence,
        ecdfs=ecdfs,
        profile_costs=_profile_cost(fixed_target, ladders, declared),
        speed=check_speed(finals),
        cost=cost_table(finals),
        pareto=analyse_pareto(runs, styles, problem, stem),
        start=analyse_start(runs),
    )


@dataclass(frozen=True)
class Across:
    """Across problems: aggregate scores with stratified intervals, Friedman test, performance profile."""

    problems: int
    aggregate: pd.DataFrame
    """optimizer, problems, mean (of per-problem means), ci_low, ci_high, mean_rank; primary metrics with one direction."""
    friedman: Friedman | None
    note: str
    profile: FigureData | None


def _aggregate(analyses: Sequence[ProblemAnalysis], runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """Per-optimizer strata of final primary-metric values, one per problem; and the per-problem mean scores."""
    higher = analyses[0].metric.higher_is_better
    finals = final_rows(runs[runs["status"] == "ok"])
    scores = pd.DataFrame({a.problem: a.table.set_index("optimizer")[f"{a.metric.name}_mean"] for a in analyses}).T
    rows = []
    for label in scores.columns:
        strata = [
            finals.loc[(finals["problem_label"] == a.problem) & (finals["optimizer_label"] == label), a.metric.column].to_numpy(
                float
            )
            for a in analyses
        ]
        strata = [s for s in strata if s.size]
        low, high = stratified_ci(strata)
        mean = float(np.mean([s.mean() for s in strata])) if strata else float("nan")
        rows.append({"optimizer": label, "problems": len(strata), "mean": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["optimizer", "problems", "mean", "ci_low", "ci_high"]), scores, higher


def analyse_across(analyses: Sequence[ProblemAnalysis], runs: pd.DataFrame, styles: Mapping[str, Style]) -> Across:
    """Aggregate over problems whose primary metric points the same way (accuracy, or loss)."""
    kinds = [a.metric.name for a in analyses]
    if len(set(kinds)) > 1 and "test_accuracy" in kinds:
        keep = [a for a in analyses if a.metric.name == "test_accuracy"]
        mixed = " Problems without accuracy (test functions) are left out of the aggregate."
    elif len(set(kinds)) > 1:
        common = max(set(kinds), key=kinds.count)
        keep = [a for a in analyses if a.metric.name == common]
        mixed = f" Only the problems ranked on {keep[0].metric.label} are in the aggregate."
    else:
        keep, mixed = list(analyses), ""
    aggregate, scores, higher = _aggregate(keep, runs)
    test = friedman(scores, higher)
    if len(keep) < 2:
        note = "One problem: the Friedman test and the critical-difference diagram need at least two problems."
    elif test is None:
        note = "The Friedman test needs at least three optimizers run on every problem."
    else:
        note = (
            f"Friedman test over {test.problems} problems and {len(test.mean_ranks)} optimizers (those run on every problem): "
            f"χ² = {test.statistic:.2f}, p = {test.p_value:.3g}. "
            f"Critical difference (Nemenyi, α = 0.05): {test.critical_difference:.2f} "
            "mean ranks; optimizers joined by a bar are not significantly different."
        )
        if test.problems < 5:
            note += " With fewer than 5 problems the test has little power."
    ranks = test.mean_ranks if test else scores.rank(axis=1, ascending=not higher).mean()
    aggregate = aggregate.assign(mean_rank=aggregate["optimizer"].map(ranks)).sort_values(
        ["mean_rank", "optimizer"], ignore_index=True
    )
    costs = pd.DataFrame({a.problem: a.profile_costs for a in analyses}).T
    taus = np.geomspace(1, 1000, 200)
    profile = (
        profile_figure(
            taus,
            performance_profile(costs, taus),
            styles,
            f"Performance profile over {len(costs)} problem(s): ERT in samples to each problem's profile target",
        )
        if not costs.empty and costs.shape[1]
        else None
    )
    return Across(len(keep), aggregate, test, note + mixed, profile)
