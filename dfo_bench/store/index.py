"""The index of a results folder: the rows of its run files gathered in a few Parquet files, so
that reading N runs costs a handful of file opens and one ``os.scandir`` of ``runs/``, not N opens.

``index/*.parquet`` holds run files' rows as they were read, each row with two more columns:
``_file`` (the run file's name) and ``_source`` (its name, inode, modification time in ns and size
when it was read). A row is used only while its ``_source`` is still the run file's: the run files
stay the one source of truth, and the index is a cache of them that is never the only copy.

A reader (``RunIndex.read``) lists ``runs/`` once (names, inodes, times, sizes), takes each run's
rows from the first index file whose ``_source`` matches, reads the rest from the run files
(new runs, replaced ones) and adds them to the index as one new file. When the index has grown to
several files, or holds rows of run files that are gone or replaced, the reader compacts it: one
file of every current row is written, then the files it was made of are deleted.

Concurrent readers and writers need no lock. Every index file appears whole or not at all
(written under a temporary name, renamed); a compaction deletes only the files it read (an index
file added meanwhile survives it); two readers that add or compact at once leave duplicate rows,
and duplicates are harmless: a run's rows are taken from one file only, and the next compaction
merges them. The worst any race can do is make a later reader read a run file again.

The long texts every row of a run repeats (``REPEATED_TEXT``: its identity, parameters, versions,
host, declared metrics) are held as dictionaries in memory, read so from the index files and
encoded so from the run files: one copy per distinct value, not one per row, which at 10,000 runs
is most of the rows' memory (pandas turns them into categories).

An index file that cannot be read is logged as a warning, left out, and replaced by the next
compaction: its runs are read from their run files. A folder that cannot be written (read-only,
full) is read all the same: the index just is not brought up to date.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dfo_bench.atomic import write_atomically

FILE = "_file"
SOURCE = "_source"
MOST_FILES = 8
"""Index files a reader leaves as they are; beyond, it compacts them into one."""
BATCH = 1000
"""Run files read into memory at once while the index is built."""
READERS = min(4, os.cpu_count() or 1)
"""Threads reading run files while the index is built: on 2 cores, 1,000 small run files were read
in about half the time one thread took (2.1–2.6 s against 4.6–4.9 s, 2026-12-04)."""
UNREADABLE = (OSError, ValueError, TypeError, pa.ArrowException)
REPEATED_TEXT = (
    "versions",
    "identity",
    "host",
    "optimizer_params",
    "problem_params",
    "space",
    "config_hash",
    "declared_metrics",
)
"""Long texts that every row of a run repeats and that readers only read (never order or edit)."""
TEXT_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
"""How they are held: what Parquet's ``read_dictionary`` gives."""

log = logging.getLogger(__name__)


def signature(entry: os.DirEntry[str]) -> str:
    """What tells one version of a run file from another: its name, inode, mtime (ns) and size
    (a file rewritten by ``write_atomically`` gets a new inode)."""
    stat = entry.stat()
    return f"{entry.name}|{entry.inode()}|{stat.st_mtime_ns}|{stat.st_size}"


def combine(tables: Iterable[pa.Table]) -> pa.Table | None:
    """One table of run tables whose columns differ (a column absent from one is null there; a
    column null in one takes the others' type); None when there are none. pandas' metadata is
    dropped: each file's describes its own index."""
    tables = [table.replace_schema_metadata(None) for table in tables]
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")


def encoded(table: pa.Table) -> pa.Table:
    """``table`` with its ``REPEATED_TEXT`` columns as ``TEXT_DICTIONARY`` (a column of nulls stays null)."""
    for i, field in enumerate(table.schema):
        if field.name in REPEATED_TEXT and field.type != TEXT_DICTIONARY and not pa.types.is_null(field.type):
            table = table.set_column(i, pa.field(field.name, TEXT_DICTIONARY), table.column(i).cast(TEXT_DICTIONARY))
    return table


def decoded(table: pa.Table) -> pa.Table:
    """``table`` with its ``REPEATED_TEXT`` dictionaries as plain strings again."""
    for i, field in enumerate(table.schema):
        if field.name in REPEATED_TEXT and pa.types.is_dictionary(field.type):
            table = table.set_column(i, pa.field(field.name, pa.string()), table.column(i).cast(pa.string()))
    return table


class RunIndex:
    """The index in ``folder`` of the run files of ``runs``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _files(self) -> list[Path]:
        try:
            names = sorted(entry.name for entry in os.scandir(self.folder) if entry.is_file())
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [self.folder / name for name in names if name.endswith(".parquet") and not name.startswith(".")]

    def _read_file(self, path: Path, columns: list[str] | None) -> pa.Table | None:
        """An index file's rows (``columns`` of them, those it has, with ``_file`` and ``_source``);
        None when it is gone, or cannot be read (logged)."""
        try:
            names = pq.read_schema(path).names
            if FILE not in names or SOURCE not in names:
                raise ValueError(f"no column {FILE} or {SOURCE}")
            wanted = None if columns is None else [c for c in dict.fromkeys([*columns, FILE, SOURCE]) if c in names]
            dictionary = [c for c in REPEATED_TEXT if c in names and (wanted is None or c in wanted)]
            return encoded(pq.read_table(path, columns=wanted, read_dictionary=dictionary))
        except FileNotFoundError:
            return None
        except UNREADABLE as exc:
            log.warning("%s: damaged index file (%s); its runs are read from their run files and the index rebuilt", path, exc)
            return None

    def read(
        self,
        current: dict[str, str],
        read_run: Callable[[str], pa.Table | None],
        columns: list[str] | None = None,
        spill: bool = True,
    ) -> pa.Table | None:
        """The rows of the run files ``current`` (file name -> ``signature``), ``columns`` of them
        (all when None), in file-name order and each run's row order; None when there are none.

        ``read_run(name)``: the run file's rows, every column, or None when it is unusable (the
        store notes why); such files are not indexed, so they are read, and noted, every time.
        ``spill``: more than ``BATCH`` runs missing from the index are indexed a batch at a time
        and the index read again, so that building it holds one batch in memory, not every run.
        """
        files = self._files()
        many = len(files) >= MOST_FILES
        found, covered, stale = self._gather(files, current, None if many else columns)
        missing = sorted(set(current) - covered)
        if spill and len(missing) > BATCH:
            batches = self._batches(missing, current, read_run)
            if all(self._write(table, "part") for table in batches):
                del found
                return self.read(current, read_run, columns, spill=False)
        added = combine(self._batches(missing, current, read_run))
        if many or stale:
            if not many and columns is not None:  # a compaction keeps every column: read them
                again = self._gather(files, current, None)
                compact = again[1] == covered  # else an index file went meanwhile: compact another time
                every = again[0]
            else:
                compact, every = True, found
            if compact:
                merged = self._ordered([*every, *([added] if added is not None else [])])
                del every
                self._compact(merged, files)
                return self._strip(merged, columns) if columns is None else self._select(found, added, columns)
        if added is not None:
            self._write(added, "part")
        return self._select(found, added, columns)

    def _batches(
        self, names: list[str], current: dict[str, str], read_run: Callable[[str], pa.Table | None]
    ) -> Iterator[pa.Table]:
        """The rows of the run files ``names``, with their ``_file`` and ``_source``, ``BATCH`` runs a
        table. ``READERS`` threads read the files (pyarrow reads without the GIL); the tables come
        in the order of ``names`` all the same."""
        with ThreadPoolExecutor(READERS) as pool:
            for start in range(0, len(names), BATCH):
                yield from self._batch(names[start : start + BATCH], current, pool.map(read_run, names[start : start + BATCH]))

    @staticmethod
    def _batch(names: list[str], current: dict[str, str], read: Iterable[pa.Table | None]) -> Iterator[pa.Table]:
        tables = []
        for name, table in zip(names, read, strict=True):
            if table is not None:
                files = pa.array([name] * table.num_rows, pa.string())
                sources = pa.array([current[name]] * table.num_rows, pa.string())
                tables.append(table.append_column(FILE, files).append_column(SOURCE, sources))
        batch = combine(tables)
        if batch is not None:
            yield encoded(batch.combine_chunks())

    def _gather(
        self, files: list[Path], current: dict[str, str], columns: list[str] | None
    ) -> tuple[list[pa.Table], set[str], bool]:
        """The index rows of ``current``, each run's from the first file holding its signature;
        the run files covered; whether any file held rows to drop (of gone, replaced or
        already covered run files) or could not be read."""
        wanted = pa.array(list(current.values()), pa.string())
        found: list[pa.Table] = []
        covered: set[str] = set()
        stale = False
        for path in files:
            table = self._read_file(path, columns)
            if table is None:
                stale = stale or path.exists()
                continue
            rows = table.num_rows
            keep = pc.is_in(table[SOURCE], value_set=wanted)
            if covered:
                keep = pc.and_(keep, pc.invert(pc.is_in(table[FILE], value_set=pa.array(sorted(covered), pa.string()))))
            kept = table if pc.all(keep).as_py() else table.filter(keep)  # filtering copies every column
            del table
            stale = stale or kept.num_rows < rows
            if kept.num_rows:
                found.append(kept)
                covered.update(pc.unique(kept[FILE]).to_pylist())
        return found, covered, stale

    def _select(self, found: list[pa.Table], added: pa.Table | None, columns: list[str] | None) -> pa.Table | None:
        """The rows found and added, in file-name order, ``columns`` of them (those there are)."""
        return self._strip(self._ordered([*found, *([added] if added is not None else [])]), columns)

    @staticmethod
    def _ordered(tables: list[pa.Table]) -> pa.Table | None:
        """The rows of ``tables`` as one table in file-name order, each run's rows in their order.
        Each index file is written in that order, and those written a batch at a time hold
        ranges of names that do not overlap: the tables are put in order of their first names,
        and the rows sorted (a copy of every column) only where that is not enough."""
        table = combine(sorted(tables, key=lambda t: t[FILE][0].as_py() if t.num_rows else ""))
        if table is None or table.num_rows < 2:
            return table
        names = table[FILE]
        if pc.all(pc.less_equal(names[:-1], names[1:])).as_py():
            return table
        return table.take(pc.sort_indices(names))  # stable

    @staticmethod
    def _strip(table: pa.Table | None, columns: list[str] | None) -> pa.Table | None:
        """``columns`` of ``table`` (all when None; those it has), without the index's own."""
        if table is None:
            return None
        return table.select([c for c in table.column_names if c not in (FILE, SOURCE) and (columns is None or c in columns)])

    def _write(self, table: pa.Table, kind: str) -> bool:
        """Add an index file of ``table``; where the folder cannot be written (read-only, full) the
        index just stays as it is (False): the answer is the same, the next reader reads the run files."""
        path = self.folder / f"{kind}-{uuid.uuid4().hex}.parquet"
        try:
            write_atomically(path, lambda tmp: pq.write_table(table, tmp))
        except OSError as exc:
            log.debug("%s: index not updated (%s)", path, exc)
            return False
        return True

    def _compact(self, table: pa.Table | None, files: list[Path]) -> None:
        """Replace ``files`` by one file of ``table`` (written before any is deleted)."""
        if table is not None and not self._write(table, "compact"):
            return  # not written: keep what there is
        for path in files:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.debug("%s: not removed from the index (%s)", path, exc)
