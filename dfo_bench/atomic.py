"""Files that appear whole or not at all, and the clean-up of writers that were killed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Have ``write`` fill a temporary file beside ``path``, fsync it, then rename it to ``path``:
    a reader (or a resumed suite) sees the whole file or none. The temporary name carries the
    writer's pid, so ``remove_stale_temporaries`` can tell a killed writer's leftovers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def process_exists(pid: int) -> bool:
    """Whether process ``pid`` exists and has not ended: a zombie (ended, not yet reaped by its
    parent, as where nothing reaps orphans) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    except OverflowError:  # not a valid pid
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS), or it ended meanwhile
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def remove_stale_temporaries(root: Path) -> None:
    """Delete temporary files of ``write_atomically`` under ``root`` whose writer process is gone
    (links to folders are not followed: nothing outside ``root`` is touched)."""
    for folder, _, names in os.walk(root):
        for name in names:
            parts = name.split(".")
            if name.startswith(".") and len(parts) >= 3 and parts[-1] == "tmp" and parts[-2].isdigit():
                if not process_exists(int(parts[-2])):
                    (Path(folder) / name).unlink(missing_ok=True)
