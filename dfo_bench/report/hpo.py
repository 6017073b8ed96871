"""The report's hyper-parameter view: for problems whose candidates are configurations (runs whose
checkpoints record ``config``), the best validation value against evaluations and against
training cost (forward-equivalent samples), the configuration each optimizer chose, and a
top-ten table of configurations in the style of Pintus (2024).

A checkpoint records the recommended configuration (for the typed optimizers: the best evaluated
so far) with its validation loss, so the top ten are ranked among the configurations that were
some run's best at a checkpoint, not among every configuration evaluated. Published numbers on
the same task (``hpo_references.csv``) are listed beside, not re-run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files

import numpy as np
import pandas as pd

from dfo_bench.report.curves import common_grid, seed_band
from dfo_bench.report.display import Cell, TextTable, fmt
from dfo_bench.report.figures import X_LABELS, FigureData, Line, Reference, Style

TOP = 10


@dataclass(frozen=True)
class HPOAnalysis:
    problem: str
    """The problem's label."""
    metric: str
    """What the validation loss is: validation MSE or validation cross-entropy."""
    chosen: pd.DataFrame
    """Per optimizer: seeds, median and best final validation loss, and the best seed's configuration."""
    top: pd.DataFrame
    """The ``TOP`` best distinct (optimizer, seed, configuration) by validation loss."""
    figures: list[FigureData]
    published: pd.DataFrame
    """Published rows for this task (source, optimizer, value, protocol), possibly empty."""


def is_hpo(runs: pd.DataFrame) -> bool:
    """Whether these runs searched configurations (their checkpoints record one)."""
    return "config" in runs and bool(runs["config"].notna().any())


def _metric(runs: pd.DataFrame) -> str:
    classification = "val_accuracy" in runs and bool(runs["val_accuracy"].notna().any())
    return "validation cross-entropy" if classification else "validation MSE"


def _dataset(runs: pd.DataFrame) -> str | None:
    params = json.loads(str(runs["problem_params"].iloc[0]))
    return params.get("dataset") if isinstance(params, dict) else None


def published_rows(problem: str, dataset: str | None) -> pd.DataFrame:
    """Rows of ``hpo_references.csv`` for this problem name and data set."""
    with files("dfo_bench.report").joinpath("hpo_references.csv").open("r", encoding="utf-8") as handle:
        table = pd.read_csv(handle)
    return table[(table["problem"] == problem) & (table["dataset"] == dataset)].reset_index(drop=True)


def analyse_hpo(problem: str, runs: pd.DataFrame, styles: Mapping[str, Style]) -> HPOAnalysis:
    ok = runs[(runs["status"] == "ok") & runs["config"].notna()].sort_values(["run_id", "checkpoint"])
    ok = ok.assign(best_val_loss=ok.groupby("run_id")["val_loss"].cummin())
    finals = ok.groupby("run_id").tail(1)
    chosen = []
    for label, part in finals.groupby("optimizer_label", sort=True):
        best = part.loc[part["val_loss"].idxmin()]
        chosen.append(
            {
                "optimizer": label,
                "seeds": len(part),
                "median": float(part["val_loss"].median()),
                "best": float(best["val_loss"]),
                "best_seed": int(best["seed"]),
                "config": str(best["config"]),
                "evaluations": float(part["evaluations"].median()),
                "samples": float(part["samples"].median()),
            }
        )
    top = (  # the start (checkpoint 0, before any evaluation) is no optimizer's choice
        ok[ok["evaluations"] > 0]
        .drop_duplicates(["run_id", "config"])
        .nsmallest(TOP, "val_loss")[["optimizer_label", "seed", "checkpoint", "evaluations", "config", "val_loss"]]
        .reset_index(drop=True)
    )
    published = published_rows(str(runs["problem"].iloc[0]), _dataset(runs))
    references = tuple(
        Reference(f"published, not re-run: {r['optimizer']} {float(r['value']):g}", float(r["value"]))
        for r in published.to_dict("records")
    )
    metric = _metric(runs)
    figures = [_figure(problem, ok, styles, x, metric, references) for x in ("evaluations", "samples")]
    return HPOAnalysis(problem, metric, pd.DataFrame(chosen), top, [f for f in figures if f is not None], published)


def _figure(
    problem: str, ok: pd.DataFrame, styles: Mapping[str, Style], x: str, metric: str, references: tuple[Reference, ...]
) -> FigureData | None:
    grid = common_grid(ok, x)
    if not grid.size:
        return None
    lines = []
    for label, part in ok.groupby("optimizer_label", sort=True):
        band = seed_band(part, x, "best_val_loss", grid)
        if not np.isnan(band.median).all():
            lines.append(Line(str(label), band.x, band.median, styles[str(label)], band.low, band.high))
    stem = "hpo-" + "".join(c if c.isalnum() else "-" for c in problem).strip("-") + f"-best-val-vs-{x}"
    return FigureData(
        stem=stem,
        title=f"best {metric} vs {X_LABELS[x]} (median over seeds, band: IQR)",
        x_label=X_LABELS[x],
        y_label=f"best {metric}",
        log_x=True,
        log_y=True,
        lines=tuple(lines),
        references=references,
        context=problem,
    )


def _config_text(config: str) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in json.loads(config).items())


def chosen_table(analysis: HPOAnalysis) -> TextTable:
    """Per optimizer: the final validation loss over seeds and the best seed's configuration."""
    metric = analysis.metric
    columns = ["optimizer", "seeds", f"median final {metric}", f"best {metric}", "best seed", "its configuration"]
    rows = []
    for r in analysis.chosen.to_dict("records"):
        median, best, seeds, seed = float(r["median"]), float(r["best"]), int(r["seeds"]), int(r["best_seed"])
        rows.append(
            [Cell(str(r["optimizer"])), Cell(str(seeds), seeds), Cell(fmt(median, ".4g"), median), Cell(fmt(best, ".4g"), best),
             Cell(str(seed), seed), Cell(_config_text(str(r["config"])))]
        )
    references = [
        [Cell(f"{r['optimizer']} ({r['source']})"), Cell(""), Cell(""), Cell(fmt(float(r["value"]), ".4g")), Cell(""),
         Cell(str(r["protocol"]))]
        for r in analysis.published.to_dict("records")
    ]
    return TextTable(columns, rows, references)


def top_table(analysis: HPOAnalysis) -> TextTable:
    """The ten best configurations recommended at any checkpoint of any run."""
    columns = ["rank", "optimizer", "seed", "at evaluation", "configuration", analysis.metric]
    rows = []
    for i, r in enumerate(analysis.top.to_dict("records")):
        seed, evaluations, loss = int(r["seed"]), float(r["evaluations"]), float(r["val_loss"])
        rows.append(
            [Cell(str(i + 1), i + 1), Cell(str(r["optimizer_label"])), Cell(str(seed), seed),
             Cell(f"{evaluations:.0f}", evaluations), Cell(_config_text(str(r["config"]))), Cell(fmt(loss, ".4g"), loss)]
        )
    return TextTable(columns, rows)
