"""Claims on runs, so that processes sharing a results folder run each run once.

A worker claims a run before executing it by creating its running marker: the marker's content
is written to a temporary file, then hard-linked to the marker's name. ``os.link`` fails when the
name exists, atomically, on local file systems and on NFS alike, so of two workers that claim the
same run at once exactly one gets it, and nobody ever reads a half-written marker. The other one
leaves the run to the holder, unless the holder is gone:

- on this host, its process is no longer alive: taken over at once;
- on any host, its heartbeat (the marker's mtime, touched every ``STALE_AFTER / 20`` seconds by
  the worker while it runs) is older than ``STALE_AFTER``: taken over; ages are measured on the
  file system's clock (the mtime of a file written now), not on hosts' clocks, which may differ;
- it belongs to the same ``dfo-bench run`` (an earlier attempt its executor gave up on, or a
  requeued job): taken over.

A holder paused for longer than ``STALE_AFTER`` (a suspended process, a frozen node) loses its
claim and the run may then be executed twice; both results are the same run, stored atomically.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from pathlib import Path
from types import TracebackType

from dfo_bench.atomic import process_exists
from dfo_bench.store.records import RunningMarker

STALE_AFTER = 600.0
"""Seconds without a heartbeat after which another host's claim is taken over (10 minutes)."""


def read_marker(path: Path) -> RunningMarker | None:
    """The marker at ``path``; None when it is absent. ValueError when it is not a marker."""
    try:
        given = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(given, dict):
        raise ValueError("not a JSON object")
    try:
        return RunningMarker(
            run_id=str(given["run_id"]),
            problem_label=str(given["problem_label"]),
            optimizer_label=str(given["optimizer_label"]),
            host=str(given["host"]),
            pid=int(given["pid"]),
            started_at=str(given["started_at"]),
            owner=str(given.get("owner", "")),
            token=str(given.get("token", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"no valid {exc}" if isinstance(exc, KeyError) else str(exc)) from None


def folder_time(folder: Path) -> float:
    """The file system's present time, seconds since the epoch: the mtime of a file written now
    (what a heartbeat's mtime is compared with)."""
    probe = folder / f".clock.{threading.get_ident()}.{os.getpid()}.tmp"
    try:
        probe.touch()
        return probe.stat().st_mtime
    finally:
        probe.unlink(missing_ok=True)


def alive_here(marker: RunningMarker) -> bool:
    """Whether the marker's process runs on this host (another host's cannot be checked from here)."""
    return marker.host == socket.gethostname() and process_exists(marker.pid)


def is_stale(holder: RunningMarker, age: float, owner: str, stale_after: float) -> bool:
    """Whether a claim of ``age`` seconds since its last heartbeat no longer holds against ``owner``."""
    if holder.owner and holder.owner == owner:
        return True
    if holder.host == socket.gethostname() and not alive_here(holder):
        return True
    return age > stale_after


class Claim:
    """This process's claim on a run: its marker, touched every ``heartbeat`` seconds by a thread
    while the claim is held (``with``), and removed on leaving, unless another claim replaced it."""

    def __init__(self, path: Path, token: str, heartbeat: float) -> None:
        self.path = path
        self.token = token
        self.heartbeat = heartbeat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat {path.name}", daemon=True)

    def __enter__(self) -> Claim:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        if self._held():
            self.path.unlink(missing_ok=True)

    def _held(self) -> bool:
        try:
            marker = read_marker(self.path)
        except (OSError, ValueError):
            return False
        return marker is not None and marker.token == self.token

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            if self._held():
                try:
                    os.utime(self.path)
                except OSError:  # taken over and removed since: nothing left to touch
                    pass


def take_over(path: Path, stale: RunningMarker | None) -> None:
    """Remove the stale claim ``stale`` (None: a marker that could not be read) at ``path``.

    The marker is first renamed to a name of this process's own, which one process alone can do;
    if what it renamed is not the stale claim (another process took the run over in between), it
    is put back."""
    private = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.{os.getpid()}.tmp")
    try:
        os.rename(path, private)
    except FileNotFoundError:  # another process removed it first
        return
    try:
        try:
            taken = read_marker(private)
        except (OSError, ValueError):
            taken = None
        if taken != stale:
            try:
                os.link(private, path)
            except FileExistsError:  # a third claim came meanwhile; the one renamed away is lost
                pass
    finally:
        private.unlink(missing_ok=True)
