"""Stored rows of one or more results folders, merged, with the selection the user asked for.

Tuning runs (``phase: tuning``) are set apart from the evaluation runs the report's tables
show, and the folders' study records are read beside them. Damaged files are left out and listed
(``LoadedRuns.damaged``) for the caller to name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dfo_bench.errors import ConfigError
from dfo_bench.labels import select_labels
from dfo_bench.store import TUNING, DamagedFile, ResultStore, StudyRecord
from dfo_bench.store.index import REPEATED_TEXT

METRIC_COLUMNS = [
    *(f"final_{m}" for m in ("evaluations", "samples", "seconds", "train_loss", "test_loss")),
    *(f"final_{split}_{m}" for split in ("val", "test") for m in ("accuracy", "f1")),
    *("evaluations", "samples", "seconds", "train_loss", "val_accuracy", "test_accuracy"),
]
"""Columns the report reads; absent when every stored run failed before its first checkpoint, and
accuracies are absent for test functions."""


@dataclass(frozen=True)
class LoadedRuns:
    runs: pd.DataFrame
    notes: list[str]
    """What the user should know about the merge (duplicates kept once, folders without results)."""
    tuning: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Rows of the tuning runs (never in ``runs``)."""
    studies: list[StudyRecord] = field(default_factory=list)
    """Study records of the selected (problem, optimizer) pairs, one per pair (first folder wins);
    a tuned entry's label carries ``TUNED_MARK`` as its runs' do."""
    damaged: list[DamagedFile] = field(default_factory=list)
    """Files of the folders left out (unreadable, or not what their place holds)."""


def _load_one(store: ResultStore) -> pd.DataFrame:
    try:
        return store.load(categories=True).assign(results_folder=str(store.root))
    except FileNotFoundError:
        damaged = store.damaged
        left = f" ({len(damaged)} damaged files left out, e.g. {damaged[0].path}: {damaged[0].reason})" if damaged else ""
        raise ConfigError(f"{store.root}: no stored results{left}; run a suite first") from None


def _same_categories(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """The folders' frames with each repeated text (``REPEATED_TEXT``) as categories of one sorted
    set, so that concatenating them keeps the categories (frames of different categories would be
    concatenated as strings, one per row); a frame without the column (files written before it)
    gets it, missing."""
    for column in REPEATED_TEXT:
        present = [f[column] for f in frames if column in f and isinstance(f[column].dtype, pd.CategoricalDtype)]
        if not present:
            continue
        dtype = pd.CategoricalDtype(sorted(set().union(*(s.cat.categories for s in present))))
        frames = [f.assign(**{column: _categorical(f, column, dtype)}) for f in frames]
    return frames


def _categorical(frame: pd.DataFrame, column: str, dtype: pd.CategoricalDtype) -> pd.Series | pd.Categorical:
    if column not in frame:
        return pd.Categorical([None] * len(frame), dtype=dtype)
    return frame[column].astype(dtype)  # categories recoded, not the rows' texts copied


def _select(runs: pd.DataFrame, column: str, patterns: Sequence[str], option: str) -> pd.DataFrame:
    """Rows whose ``column`` matches any of the patterns (exact labels or shell wildcards)."""
    labels = runs[column].astype(str).unique()
    chosen, missing = select_labels(labels, patterns)
    if missing:
        raise ConfigError(f"{option}: {', '.join(missing)}: no such label in the results; allowed: {', '.join(sorted(labels))}")
    return runs[runs[column].isin(chosen)]


def load_runs(
    folders: Path | Sequence[Path], problems: Sequence[str] = (), optimizers: Sequence[str] = (), index: bool = True
) -> LoadedRuns:
    """Every stored row of the folders, in order; a run id stored in several folders is kept from
    the first folder that holds it. ConfigError (one line for the CLI) when a folder has no results
    or a selection matches nothing. ``index``: False reads every run file and writes nothing, not
    even the folder's index (``--strict``: a folder refused is left as it was)."""
    folders = [Path(folders)] if isinstance(folders, (str, Path)) else [Path(f) for f in folders]
    stores = [ResultStore(folder, index=index) for folder in folders]
    frames = [_load_one(store) for store in stores]
    notes = []
    seen: set[str] = set()
    kept = []
    for folder, frame in zip(folders, frames, strict=True):
        ids = set(frame["run_id"].unique())
        repeated = ids & seen
        if repeated:
            notes.append(f"{len(repeated)} run(s) in {folder} were also in an earlier folder; the first copy is kept")
            frame = frame[~frame["run_id"].isin(repeated)]
        kept.append(frame)
        seen |= ids
    del frames  # the rows are held once: a results folder of 10,000 runs is hundreds of MB
    runs = kept[0] if len(kept) == 1 else pd.concat(_same_categories(kept), ignore_index=True)
    del kept
    if problems:
        runs = _select(runs, "problem_label", problems, "--problems")
    if optimizers:
        runs = _select(runs, "optimizer_label", optimizers, "--optimizers")
    runs = runs.assign(**{column: float("nan") for column in METRIC_COLUMNS if column not in runs})
    tuning = runs["phase"].eq(TUNING) if "phase" in runs else pd.Series(False, index=runs.index)
    if tuning.all():
        where = ", ".join(str(f) for f in folders)
        raise ConfigError(f"{where}: only tuning runs stored so far; run the suite to the end for evaluation runs to report")
    pairs = set(zip(runs["problem_label"], runs["optimizer_label"], strict=True))
    studies = [s for s in _studies(stores) if _key(s) in pairs]
    superseded = _superseded(runs, studies) & ~tuning
    if superseded.any():
        count = runs.loc[superseded, "run_id"].nunique()
        notes.append(f"{count} stored evaluation run(s) of an earlier tuning choice left out (not the study's current choice)")
    evaluation = runs[~tuning & ~superseded] if (tuning | superseded).any() else runs
    tuned = {_key(s) for s in studies if s.tuned}
    studies = [s.model_copy(update={"optimizer_label": s.optimizer_label + TUNED_MARK}) if s.tuned else s for s in studies]
    damaged = [file for store in stores for file in store.damaged]
    return LoadedRuns(_mark_tuned(evaluation, tuned), notes, _mark_tuned(runs[tuning], tuned), studies, damaged)


TUNED_MARK = " (tuned)"
"""Appended to a tuned entry's label in the report: the label shows the suite's parameters before
tuning, so without the mark it would read as the configuration that ran (the Tuning table has that)."""


def _key(record: StudyRecord) -> tuple[str, str]:
    return record.problem_label, record.optimizer_label


def _mark_tuned(runs: pd.DataFrame, tuned: set[tuple[str, str]]) -> pd.DataFrame:
    runs = runs.reset_index(drop=True)
    if not tuned:
        return runs
    keys = zip(runs["problem_label"].astype(str), runs["optimizer_label"].astype(str), strict=True)
    marked = pd.Series([key in tuned for key in keys], index=runs.index, dtype=bool)
    return runs.assign(optimizer_label=runs["optimizer_label"].where(~marked, runs["optimizer_label"] + TUNED_MARK))


def _superseded(runs: pd.DataFrame, studies: Sequence[StudyRecord]) -> pd.Series:
    """Rows of a tuned entry that are not runs of its study's current choice: a re-tuned suite
    (more trials, another sampler) may choose another configuration under the same label, and the
    runs of the earlier choice stay stored; only the study record says which runs are current.
    The record lists the choice's runs on the seeds of the suite that last ran; a run of the same
    identity on another seed (a suite run seed by seed, or given more seeds later) is current too."""
    current = {_key(s): set(s.evaluation_run_ids) for s in studies if s.tuned and s.evaluation_run_ids}
    if "identity" in runs:  # parsed once per run, not per checkpoint row
        texts = runs["identity"].astype(str)
        parsed = {text: _but_seed(text) for text in texts.unique()}
        identities = [parsed[text] for text in texts]
    else:
        identities = [None] * len(runs)
    labels = runs["problem_label"].astype(str), runs["optimizer_label"].astype(str)
    rows = list(zip(*labels, runs["run_id"], identities, strict=True))
    chosen = {(p, o, i) for p, o, run_id, i in rows if i and run_id in current.get((p, o), ())}
    return pd.Series(
        [(p, o) in current and run_id not in current[(p, o)] and (p, o, i) not in chosen for p, o, run_id, i in rows],
        index=runs.index,
    )


def _but_seed(identity: str) -> str | None:
    """A run's identity (its stored JSON) without its seed: the same for every seed of one configuration."""
    try:
        fields = json.loads(identity)
    except ValueError:
        return None
    if not isinstance(fields, dict):
        return None
    fields.pop("seed", None)
    return json.dumps(fields, sort_keys=True)


def _studies(stores: Sequence[ResultStore]) -> list[StudyRecord]:
    """The study records of the folders; a (problem, optimizer) pair recorded in several is kept
    from the first folder; an unreadable record is skipped (and noted in its store's ``damaged``)."""
    found: dict[tuple[str, str], StudyRecord] = {}
    for store in stores:
        for record in store.studies():
            found.setdefault(_key(record), record)
    return list(found.values())
