"""``ResultStore``: every path of a results folder, and every file read or written there.

Files appear complete or not at all (written to a temporary name, fsynced, renamed), so a killed
suite never leaves half a run, half a marker or half a study record.

Names become file names (a run id holds its problem's and optimizer's labels), so every one is
checked by ``file_name`` before it is used: nothing the store writes can land outside its folder.
Two names that differ only in case are one file on a case-insensitive file system (macOS,
Windows): a name whose file would differ from a stored one only in case is refused, on every file
system, so a folder moved between systems keeps meaning the same.

Readers leave out what they cannot use (a truncated Parquet file, a file that is not a run, a
study record that is not JSON) and note it in ``damaged``, for the caller to name.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import ValidationError

from dfo_bench.atomic import remove_stale_temporaries, write_atomically
from dfo_bench.errors import StoreError
from dfo_bench.hashing import digest
from dfo_bench.record import RunResult
from dfo_bench.spec import RunSpec
from dfo_bench.store.claims import STALE_AFTER, Claim, alive_here, folder_time, is_stale, read_marker, take_over
from dfo_bench.store.index import REPEATED_TEXT, RunIndex, combine, decoded, encoded, signature
from dfo_bench.store.records import (
    EVALUATION,
    DamagedFile,
    ExpectedRuns,
    ExpectedStudy,
    PlanRecord,
    RunningMarker,
    StoredRun,
    StudyRecord,
)
from dfo_bench.store.rows import to_frame

RUN_COLUMNS = ("run_id", "problem_label", "optimizer_label", "seed", "status")
"""What every run file holds; a Parquet file without them is not a run."""
SUMMARY_COLUMNS = (*RUN_COLUMNS, "phase", "error")
"""What ``StoredRun`` reads of a file (``phase`` is absent from files written before tuning existed)."""
NAME_BYTES = 255
"""The longest file name of the common file systems (ext4, XFS, Btrfs, APFS; NTFS: 255 UTF-16 units)."""
TEMPORARY_BYTES = 25
"""The most a temporary file's name adds to its file's: a dot before, ``.<8 hex digits>.<pid>.tmp``
after (pids of up to 10 digits)."""
WORKER_EXIT_SECONDS = 5.0
"""How long a stopped suite waits for its workers' processes to end before its last clean-up
(seconds): a cancelled worker ends well within it; the marker of one that does not is removed by
the next start, once its process is gone."""
UNREADABLE = (OSError, ValueError, TypeError, pa.ArrowException)
"""What reading a file that is not what it should be raises (pyarrow's errors are ValueErrors or OSErrors, mostly)."""


def file_name(name: str, suffix: str) -> str:
    """``name + suffix``, a file name of the folder; StoreError (one line) when ``name`` cannot be
    one: empty, a path (``/`` or ``\\``, ``..``), hidden (a leading dot: the folder's temporaries),
    a control character (NUL, a newline), or too long for the file system once suffixed."""
    shown = repr(name) if len(name) <= 80 else repr(name[:60]) + f"... ({len(name)} characters)"
    try:
        size = len((name + suffix).encode("utf-8"))
    except UnicodeEncodeError:
        size = -1
    if not name:
        why = "is empty"
    elif size < 0:
        why = "is not valid Unicode"
    elif "/" in name or "\\" in name:
        why = "holds a path separator ('/' or '\\')"
    elif ".." in name:
        why = "holds '..'"
    elif name.startswith("."):
        why = "starts with '.' (hidden files are the folder's temporaries)"
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        why = "holds a control character"
    elif size + TEMPORARY_BYTES > NAME_BYTES:
        why = f"makes a file name of {size} bytes; at most {NAME_BYTES - TEMPORARY_BYTES} fit"
    else:
        return name + suffix
    raise StoreError(
        f"{shown}: cannot be a file name of a results folder: it {why}; labels become file names: shorten or rename the label"
    )


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


class ResultStore:
    """One results folder, laid out as

    - ``runs/<run_id>.parquet``: one file per run (``rows.to_frame``);
    - ``running/<run_id>.json``: a marker per run being executed, the claim of its worker (``claims``);
    - ``suites/<suite>.yaml``: a copy of each suite that ran there;
    - ``suites/<suite>.expected.json``: the runs that copy expects (``ExpectedRuns``), and
      ``suites/<suite>.plan.json``: the time estimate made before running it (``PlanRecord``);
    - ``tuning/<problem>__<optimizer>__<hash>.json``: a record per tuning study;
    - ``cache/``: what runs share (pre-trained weights); ``slurm/``: submitit's files;
    - ``index/``: the rows of the run files gathered in a few Parquet files (``index``), kept up
      to date by the readers of many runs (``stored_runs``, ``load``).

    ``stale_after``: seconds without a heartbeat after which another host's claim on a run is
    taken over (``claims.STALE_AFTER``, 10 minutes). ``index``: False reads every run file and
    leaves the index alone (what the index is checked against).
    """

    def __init__(self, root: str | Path, stale_after: float = STALE_AFTER, index: bool = True) -> None:
        self.root = Path(root)
        self.stale_after = stale_after
        self._runs = self.root / "runs"
        self._index = RunIndex(self.root / "index") if index else None
        self._damaged: dict[Path, str] = {}

    @property
    def damaged(self) -> list[DamagedFile]:
        """The files the readers of this store left out so far, each once, in path order."""
        return [DamagedFile(path, reason) for path, reason in sorted(self._damaged.items())]

    def _damage(self, path: Path, reason: str) -> None:
        self._damaged.setdefault(path, reason)

    def _place(self, folder: str, name: str, suffix: str) -> Path:
        """The path of ``name`` in the folder's subfolder ``folder``, checked to be a file of it
        (``file_name``) and, links resolved, still right inside it."""
        try:
            path = self.root / folder / file_name(name, suffix)
        except StoreError as exc:
            raise StoreError(f"{self.root / folder}: {exc}") from None
        resolved = path.resolve()
        if resolved.parent != path.parent.resolve():
            raise StoreError(f"{path}: a link to {resolved}, outside {self.root / folder}; allowed: files of the results folder")
        return path

    def _refuse_case_twin(self, path: Path) -> None:
        """StoreError when a stored file's name differs from ``path``'s only in case."""
        try:
            names = os.listdir(path.parent)
        except FileNotFoundError:
            return
        key = path.name.casefold()
        twin = next((name for name in names if name != path.name and name.casefold() == key), None)
        if twin is not None:
            raise StoreError(
                f"{path}: {twin} is stored beside it, a name that differs only in case (one file on macOS and Windows); "
                "allowed: labels that differ in more than case"
            )

    def check_names(self, run_ids: Iterable[str], suite: str | None = None, studies: Iterable[tuple[str, str]] = ()) -> None:
        """Refuse up front (StoreError, one line) what the suite would have to write under a name
        that cannot be a file of this folder, or two run ids that differ only in case, among
        themselves or from a stored run's."""
        if suite is not None:
            self._place("suites", suite, ".yaml")
        for problem_label, optimizer_label in studies:
            self._study(problem_label, optimizer_label)
        try:
            seen = {
                name.casefold(): name.removesuffix(".parquet") for name in os.listdir(self._runs) if name.endswith(".parquet")
            }
        except FileNotFoundError:
            seen = {}
        for run_id in run_ids:
            self.path(run_id)
            other = seen.setdefault(f"{run_id}.parquet".casefold(), run_id)
            if other != run_id:
                raise StoreError(
                    f"{self.root}: run ids {run_id!r} and {other!r} differ only in case: one file on macOS and Windows; "
                    "allowed: labels that differ in more than case"
                )

    # Runs.

    def path(self, run_id: str) -> Path:
        return self._place("runs", run_id, ".parquet")

    def write(self, result: RunResult) -> Path:
        path = self.path(result.spec.run_id)
        self._refuse_case_twin(path)
        return write_atomically(path, lambda tmp: to_frame(result).to_parquet(tmp, index=False))

    def _read_run(self, path: Path, columns: Iterable[str] | None = None) -> pd.DataFrame | None:
        """The run file's rows (``columns`` of them, those it has), checked to be the run its name
        says; None, noted in ``damaged``, when it is not; None when it is absent."""
        table = self._read_table(path, columns)
        return None if table is None else table.to_pandas()

    def _read_table(self, path: Path, columns: Iterable[str] | None = None) -> pa.Table | None:
        """``_read_run``'s rows as an Arrow table."""
        try:
            # one open per file, and ParquetFile rather than read_table (whose dataset layer costs
            # twice the read itself on files of a few rows): a cold index of 10,000 runs reads each
            with pq.ParquetFile(path) as file:
                names = file.schema_arrow.names
                missing = [c for c in RUN_COLUMNS if c not in names]
                if missing:
                    self._damage(path, f"not a run file (no column {', '.join(missing)})")
                    return None
                wanted = None if columns is None else list(dict.fromkeys([*RUN_COLUMNS, *(c for c in columns if c in names)]))
                table = file.read(columns=wanted, use_threads=False)
        except FileNotFoundError:
            return None
        except UNREADABLE as exc:
            self._damage(path, f"unreadable Parquet ({_one_line(exc)})")
            return None
        ids = set(pc.unique(table["run_id"].cast(pa.string())).to_pylist())
        if ids != {path.name.removesuffix(".parquet")}:
            held = ", ".join(sorted(str(i) for i in ids)[:2]) or "no rows"
            self._damage(path, f"not the run its name says (it holds {held})")
            return None
        return table

    def status(self, run_id: str) -> str | None:
        """'ok', 'failed', or None when the run has no stored result (or an unreadable one, noted in ``damaged``)."""
        frame = self._read_run(self.path(run_id), ["status"])
        return None if frame is None else str(frame["status"].iloc[0])

    def final_metric(self, run_id: str, metric: str) -> float | None:
        """``final_<metric>`` of a stored ok run (NaN when not measured at the end); None when the
        run is not stored (or unreadable), failed, or has no such column."""
        column = f"final_{metric}"
        frame = self._read_run(self.path(run_id), [column])
        if frame is None or column not in frame:
            return None
        row = frame.iloc[0]
        return float(row[column]) if row["status"] == "ok" else None

    def stored_runs(self) -> list[StoredRun]:
        """A summary of every readable stored run, in run-id order (a few columns of the index)."""
        table = self._rows(list(SUMMARY_COLUMNS))
        if table is None:
            return []
        frame = table.to_pandas().drop_duplicates("run_id")
        runs = []
        for row in frame.to_dict("records"):
            try:
                seed = int(row["seed"])
            except (TypeError, ValueError):
                self._damage(self.path(str(row["run_id"])), f"not a run file (seed {row['seed']!r})")
                continue
            phase, error = row.get("phase"), row.get("error")
            runs.append(
                StoredRun(
                    run_id=str(row["run_id"]),
                    problem_label=str(row["problem_label"]),
                    optimizer_label=str(row["optimizer_label"]),
                    seed=seed,
                    phase=EVALUATION if phase is None or pd.isna(phase) else str(phase),
                    status=str(row["status"]),
                    error=None if error is None or pd.isna(error) else str(error),
                )
            )
        return runs

    def load(self, categories: bool = False) -> pd.DataFrame:
        """Every readable stored run's rows, in run-id order; FileNotFoundError when there are none.

        ``categories``: the long texts every row of a run repeats (``index.REPEATED_TEXT``) as
        pandas categories, in sorted order (so that sorting by them sorts their texts): what the
        report reads, as they are most of a large folder's memory otherwise. Without it they are
        strings, as in the run files (a frame a user may edit)."""
        table = self._rows(None)
        if table is None:
            raise FileNotFoundError(f"{self._runs}: no stored results")
        if not categories:
            table = decoded(table)
        # self_destruct frees each column once converted: the rows are never held twice
        frame = table.to_pandas(self_destruct=True, split_blocks=True)
        for column in REPEATED_TEXT if categories else ():
            if column in frame and isinstance(frame[column].dtype, pd.CategoricalDtype):
                frame[column] = frame[column].cat.reorder_categories(sorted(frame[column].cat.categories))
        return frame

    def _rows(self, columns: list[str] | None) -> pa.Table | None:
        """The rows of every readable run file (``columns`` of them, those each has), in run-id
        order, from the index and the run files it lacks; None when there are none."""
        entries = list(self._listing(self._runs, ".parquet", "not a run file"))
        if self._index is None:
            rows = combine(table for table in (self._read_table(Path(e.path), columns) for e in entries) if table is not None)
            return None if rows is None else encoded(rows)
        current = {entry.name: signature(entry) for entry in entries}
        return self._index.read(current, lambda name: self._read_table(self._runs / name), columns)

    def _listing(self, folder: Path, suffix: str, foreign: str) -> Iterator[os.DirEntry[str]]:
        """The files of ``folder`` named ``*<suffix>``, in name order (one ``os.scandir``); other
        files and folders there are noted as ``foreign``; hidden ones (temporaries being written)
        are skipped."""
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        inside = folder.resolve()
        for entry in entries:
            path = folder / entry.name
            if entry.name.startswith("."):
                continue
            if entry.is_symlink() and path.resolve().parent != inside:
                self._damage(path, f"a link to {path.resolve()}, outside the folder")
            elif not entry.name.endswith(suffix) or not entry.is_file():
                self._damage(path, f"{foreign} (a folder)" if entry.is_dir() else foreign)
            else:
                yield entry

    @property
    def cache_dir(self) -> Path:
        """What runs share across suites of this folder (pre-trained weights)."""
        return self.root / "cache"

    @property
    def slurm_dir(self) -> Path:
        """submitit's pickled tasks and logs."""
        return self.root / "slurm"

    # Running markers: the claims of the workers on their runs (``claims``). A worker claims its
    # run when it starts and removes the claim when the result is stored or the run stops: what
    # ``dfo-bench status`` and the progress bar count as running. A worker killed outright leaves
    # its marker; the next suite on this folder removes it (same host, process gone), or it goes
    # when its run is claimed again.

    def _marker(self, run_id: str) -> Path:
        return self._place("running", run_id, ".json")

    def claim(self, spec: RunSpec, owner: str) -> Claim | RunningMarker:
        """Claim the run for this process, working for the ``dfo-bench run`` ``owner``: the claim
        to hold (``with``) while it runs, or the marker of the live claim another process holds."""
        path = self._marker(spec.run_id)
        self._refuse_case_twin(self.path(spec.run_id))
        token = uuid.uuid4().hex
        marker = {
            "run_id": spec.run_id,
            "problem_label": spec.problem.label,
            "optimizer_label": spec.optimizer.label,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "owner": owner,
            "token": token,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{token[:8]}.{os.getpid()}.tmp")
        holder = None
        for _ in range(10):  # each turn claims, finds a live claim, or removes a stale one
            try:
                tmp.write_text(json.dumps(marker))
                os.link(tmp, path)
                return Claim(path, token, heartbeat=self.stale_after / 20)
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
            try:
                holder = read_marker(path)
                if holder is None:  # released meanwhile
                    continue
                age = folder_time(path.parent) - path.stat().st_mtime
            except FileNotFoundError:
                continue
            except (OSError, ValueError):  # not a claim this version can honour
                take_over(path, None)
                continue
            if not is_stale(holder, age, owner, self.stale_after):
                return holder
            take_over(path, holder)
        if holder is None:
            raise StoreError(f"{path}: could not claim the run: its marker keeps changing")
        return holder

    def holder(self, run_id: str, owner: str) -> RunningMarker | None:
        """The live claim another process holds on the run; None when there is none (or it is stale)."""
        path = self._marker(run_id)
        try:
            holder = read_marker(path)
            if holder is None:
                return None
            age = folder_time(path.parent) - path.stat().st_mtime
        except (OSError, ValueError):
            return None
        return None if is_stale(holder, age, owner, self.stale_after) else holder

    def release(self, run_id: str, owner: str) -> None:
        """Remove the claim the ``dfo-bench run`` ``owner`` holds on the run (left by a worker that
        died; the client stored the run in its place)."""
        path = self._marker(run_id)
        try:
            marker = read_marker(path)
        except (OSError, ValueError):
            return
        if marker is not None and marker.owner == owner:
            path.unlink(missing_ok=True)

    def running_markers(self) -> list[RunningMarker]:
        """The markers of runs being executed (one that vanishes while read is left out; one that
        is not a marker is left out and noted in ``damaged``)."""
        return [marker for _, marker in self._markers()]

    def _markers(self) -> Iterator[tuple[Path, RunningMarker]]:
        for entry in self._listing(self.root / "running", ".json", "not a running marker"):
            path = Path(entry.path)
            try:
                marker = read_marker(path)
            except (OSError, ValueError) as exc:
                self._damage(path, f"not a running marker ({_one_line(exc)})")
                continue
            if marker is not None and marker.run_id != path.name.removesuffix(".json"):
                self._damage(path, f"not the marker its name says (it holds {marker.run_id!r})")
            elif marker is not None:
                yield path, marker

    def await_workers(self, owner: str, seconds: float = WORKER_EXIT_SECONDS) -> None:
        """Wait, ``seconds`` at most, for the other processes on this host that hold the markers
        of the ``dfo-bench run`` ``owner`` to end: a cancelled job's process may still be dying
        when its engine says it is stopped, and ``remove_stale_temporaries`` keeps the marker of
        a process that exists."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and any(
            marker.owner == owner and marker.pid != os.getpid() and alive_here(marker) for _, marker in self._markers()
        ):
            time.sleep(0.05)

    def remove_stale_temporaries(self) -> None:
        """Delete temporary files of writers that were killed (their process is gone), and the
        running markers they left on this host."""
        remove_stale_temporaries(self.root)
        for path, marker in self._markers():
            if marker.host == socket.gethostname() and not alive_here(marker):
                path.unlink(missing_ok=True)

    # Suite copies: what a results folder expects (``dfo-bench status`` counts their pending runs).

    def write_suite_copy(self, name: str, text: str, runs: dict[str, str], studies: list[ExpectedStudy]) -> Path:
        """Keep ``text`` (the suite as it ran, YAML) as the copy of suite ``name``, and beside it
        the runs it expects (``ExpectedRuns``: run id -> optimizer label, and its tuned entries)."""
        copy, beside = self._place("suites", name, ".yaml"), self._place("suites", name, ".expected.json")
        expected = ExpectedRuns(copy_digest=digest(text, 64), runs=runs, studies=studies)
        record = json.dumps(expected.model_dump(mode="json"), sort_keys=True) + "\n"
        write_atomically(beside, lambda tmp: tmp.write_text(record))
        return write_atomically(copy, lambda tmp: tmp.write_text(text))

    def suite_copies(self) -> list[Path]:
        return sorted((self.root / "suites").glob("*.yaml"))

    def expected_runs(self, copy: Path) -> ExpectedRuns | None:
        """What the suite copy ``copy`` expects, as written with it; None where the record is
        missing (a folder from before it existed), the copy cannot be read, or the record is stale
        (the copy was rewritten), so the caller expands the copy itself. A record that cannot be
        read or is not one is named as damaged and also gives None."""
        try:
            path = self._place("suites", copy.name.removesuffix(".yaml"), ".expected.json")
            text = copy.read_text()
        except (StoreError, OSError, ValueError):  # named otherwise than dfo-bench names them, or unreadable:
            return None  # the caller's expansion says why
        try:
            expected = ExpectedRuns.model_validate(json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # not UTF-8, not JSON, not a record (ValidationError is a ValueError)
            self._damage(path, f"not a record of expected runs ({_one_line(exc)})")
            return None
        return expected if expected.copy_digest == digest(text, 64) else None

    # Study records, one per (problem, optimizer entry) of a tuned suite.

    def _study(self, problem_label: str, optimizer_label: str) -> Path:
        labels = [problem_label, optimizer_label]
        name = f"{problem_label}__{optimizer_label}__{digest(labels, 8)}".replace("/", "_")
        return self._place("tuning", name, ".json")

    def write_study(self, record: StudyRecord) -> Path:
        text = json.dumps(record.model_dump(mode="json"), indent=1, sort_keys=True) + "\n"
        return write_atomically(self._study(record.problem_label, record.optimizer_label), lambda tmp: tmp.write_text(text))

    def study(self, problem_label: str, optimizer_label: str) -> StudyRecord | None:
        """The record of the study of this pair; None when there is none or it cannot be read (noted in ``damaged``)."""
        return self._read_study(self._study(problem_label, optimizer_label))

    def studies(self) -> list[StudyRecord]:
        """Every readable study record of the folder, in file-name order."""
        records = [self._read_study(Path(e.path)) for e in self._listing(self.root / "tuning", ".json", "not a study record")]
        return [record for record in records if record is not None]

    # Plans: what ``dfo-bench run`` estimated before running a suite, and how long it took, beside
    # the suite's copy (``suites/<suite>.plan.json``).

    def write_plan(self, record: PlanRecord) -> Path:
        text = json.dumps(record.model_dump(mode="json"), indent=1, sort_keys=True) + "\n"
        return write_atomically(self.root / "suites" / file_name(record.suite, ".plan.json"), lambda tmp: tmp.write_text(text))

    def plans(self) -> list[PlanRecord]:
        """Every readable plan of the folder, in suite-name order (a damaged one is named and left out)."""
        plans = []
        for path in sorted((self.root / "suites").glob("*.plan.json")):
            try:
                plans.append(PlanRecord.model_validate(json.loads(path.read_text())))
            except FileNotFoundError:
                continue
            except (OSError, ValueError) as exc:  # not JSON, or not a plan (pydantic's ValidationError is a ValueError)
                self._damage(path, f"not a plan ({_one_line(exc)})")
        return plans

    def _read_study(self, path: Path) -> StudyRecord | None:
        try:
            return StudyRecord.model_validate(json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the record"
            self._damage(path, f"not a study record ({where}: {first['msg']})")
        except (OSError, ValueError) as exc:  # not JSON (json's errors and UnicodeDecodeError are ValueErrors)
            self._damage(path, f"unreadable study record ({_one_line(exc)})")
        return None
