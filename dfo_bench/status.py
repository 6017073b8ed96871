"""Where a results folder stands: runs done, failed, running and pending, per optimizer.

Read from the folder alone, through its store: the stored runs, the running markers workers
write, and the copies of the suites that ran there, which say what runs are expected (through
the record of expected runs written with each copy; a copy without one, or rewritten since, is
expanded again, which imports every problem and optimizer: torch, seconds). Nothing is
run, and nothing written but the folder's index of its run files (``store.index``: one pass over
it, not a file open per run). Files the store cannot read are left out of the counts and listed
as damaged.

Tuning runs count under ``<optimizer> (tuning)``. A tuned entry's runs are known only as its
study goes (its study record): trials not yet asked count as pending runs on every tuning seed,
and the evaluation runs as pending on every evaluation seed until the study has chosen.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dfo_bench.errors import ConfigError, DfoBenchError
from dfo_bench.store import TUNING, DamagedFile, ExpectedStudy, ResultStore

STATES = ("done", "failed", "running", "pending")


@dataclass(frozen=True)
class FolderStatus:
    counts: dict[str, Counter[str]]
    """optimizer label -> state -> runs."""
    unreadable_suites: list[str]
    """Suite copies that could not be expanded here (their pending runs are not counted)."""
    failed: dict[str, str] = field(default_factory=dict)
    """run id -> the error of each run stored as failed."""
    damaged: list[DamagedFile] = field(default_factory=list)
    """Files of the folder left out (unreadable, or not what their place holds)."""


def _row(optimizer_label: str, phase: str) -> str:
    """The table's row of a run: its optimizer, apart for tuning runs."""
    return optimizer_label + (" (tuning)" if phase == TUNING else "")


def folder_status(root: Path, index: bool = True) -> FolderStatus:
    """What the folder holds; ``index``: False reads every run file and writes nothing (not even
    the folder's index)."""
    store = ResultStore(root, index=index)
    if not root.is_dir():
        raise ConfigError(f"{root}: RESULTS: no such folder; allowed: a results folder written by dfo-bench run")
    state: dict[str, tuple[str, str]] = {}
    """run id (or a placeholder for a run not known yet) -> (row, state)."""
    failed = {}
    for run in store.stored_runs():
        state[run.run_id] = (_row(run.optimizer_label, run.phase), "done" if run.status == "ok" else "failed")
        if run.status != "ok":
            failed[run.run_id] = run.error or "no error stored"
    for marker in store.running_markers():
        state.setdefault(marker.run_id, (_row(marker.optimizer_label, marker.phase), "running"))
    unreadable = []
    for copy in store.suite_copies():
        expected = store.expected_runs(copy)
        if expected is not None:
            runs, studies = expected.runs, expected.studies
        else:
            try:
                runs, studies = _expand(copy)
            except DfoBenchError as exc:
                unreadable.append(f"{copy.name}: {exc}")
                continue
        for run_id, optimizer_label in runs.items():
            state.setdefault(run_id, (optimizer_label, "pending"))
        _studies_pending(store, studies, state)
    store.studies()  # every study record read, so that a damaged one is listed too
    if not state and not unreadable and not store.damaged:
        raise ConfigError(f"{root}: no stored results or suites; run a suite first (dfo-bench run SUITE --out {root})")
    counts: dict[str, Counter[str]] = {}
    for optimizer, run_state in state.values():
        counts.setdefault(optimizer, Counter())[run_state] += 1
    return FolderStatus(counts, unreadable, failed, store.damaged)


def _expand(copy: Path) -> tuple[dict[str, str], list[ExpectedStudy]]:
    """What a suite copy without its record of expected runs expects, from the copy expanded
    (imported here: it loads the registry, and so torch)."""
    from dfo_bench.suite import load_suite

    return load_suite(copy).expected()


def _studies_pending(store: ResultStore, studies: list[ExpectedStudy], state: dict[str, tuple[str, str]]) -> None:
    """Pending runs of a suite's tuned entries, from their study records (placeholders for runs
    whose configuration is not sampled yet)."""
    for plan in studies:
        label = plan.optimizer_label
        study = f"{plan.problem_label}:{label}"
        record = store.study(plan.problem_label, label)
        trials = record.trials if record else []
        for trial in trials:
            for run_id in trial.run_ids:
                state.setdefault(run_id, (_row(label, TUNING), "pending"))
        for trial_number in range(len(trials), plan.trials):
            for seed in plan.tuning_seeds:
                state.setdefault(f"pending:{study}:trial{trial_number}:seed{seed}", (_row(label, TUNING), "pending"))
        chosen = record.evaluation_run_ids if record else []
        for run_id in chosen or [f"pending:{study}:seed{seed}" for seed in plan.evaluation_seeds]:
            state.setdefault(run_id, (label, "pending"))


def render(status: FolderStatus) -> list[str]:
    """A table, one optimizer a line, and a total; then a line per failed run with its error."""
    width = max([len("optimizer"), *(len(name) for name in status.counts)])
    lines = [f"{'optimizer':<{width}}  " + "  ".join(f"{s:>7}" for s in STATES)]
    total: Counter[str] = Counter()
    for name in sorted(status.counts):
        total.update(status.counts[name])
        lines.append(f"{name:<{width}}  " + "  ".join(f"{status.counts[name][s]:>7}" for s in STATES))
    lines.append(f"{'total':<{width}}  " + "  ".join(f"{total[s]:>7}" for s in STATES))
    lines += [f"not counted (pending unknown): {line}" for line in status.unreadable_suites]
    lines += [f"failed: {run_id}: {' '.join(error.split())}" for run_id, error in sorted(status.failed.items())]
    return lines
