"""Where problems find their data by default, and how a data location enters a run's identity.

One default for every dataset: ``$DFO_BENCH_DATA``, else ``~/.cache/dfo-bench`` (where the
torchvision downloads go); decoded-data caches go to ``$DFO_BENCH_CACHE``, else the same folder.

A run's id hashes its configuration. A data folder hashed by its path would make the same suite
with the data moved, copied or mounted elsewhere a new set of runs, so parameters that name a
data location put a fingerprint of the data's content in their identity instead. The fingerprint
must be cheap, since it is taken whenever a suite is validated: a file enters by its name, its
size and a hash of its first and last 64 KiB (the whole of a small file), never by reading all
of a large one. For gzip files (MNIST's IDX files, the CIFAR archives) that in practice misses
nothing: their last 8 bytes are the CRC-32 and length of the whole uncompressed content.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from dfo_bench.hashing import digest

DATA_ENV = "DFO_BENCH_DATA"
CACHE_ENV = "DFO_BENCH_CACHE"
HOME_CACHE = Path("~") / ".cache" / "dfo-bench"
"""The default of both, before ``~`` is expanded."""

DOWNLOAD = "torchvision-download"
"""The fingerprint of data that is not there yet and will be downloaded: torchvision checks the
files it fetches against fixed checksums, so their content is known without them."""

EDGE = 64 * 1024
"""Bytes hashed at each end of a file."""


def data_root(subfolder: str | None = None) -> Path:
    """``$DFO_BENCH_DATA`` if set, else ``~/.cache/dfo-bench``; with ``subfolder`` below it."""
    base = os.environ.get(DATA_ENV)
    root = Path(base) if base else HOME_CACHE.expanduser()
    return root / subfolder if subfolder else root


def cache_root() -> Path:
    """``$DFO_BENCH_CACHE`` if set, else ``~/.cache/dfo-bench``: where decoded data is kept."""
    base = os.environ.get(CACHE_ENV)
    return Path(base) if base else HOME_CACHE.expanduser()


def describe_root(path: Path, default: bool) -> str:
    """``path`` quoted for an error message, saying where it came from when it is the default."""
    return f"'{path}' (the default: ${DATA_ENV}, else {HOME_CACHE})" if default else f"'{path}'"


def fingerprint(paths: Iterable[Path], relative_to: Path | None = None, *, sample: bool = True) -> str:
    """A digest of the files' names (relative to ``relative_to``, else their own names), sizes
    and, with ``sample``, a SHA-256 of their first and last 64 KiB; the order of ``paths`` does
    not matter, their location does not enter. Without ``sample`` only names and sizes are read:
    for trees of many small files, where reading each would cost seconds (an edit of one that
    keeps its size then goes unseen)."""
    entries = []
    for path in paths:
        name = path.name if relative_to is None else path.relative_to(relative_to).as_posix()
        size = path.stat().st_size
        entries.append([name, size, _sample_hash(path, size) if sample else None])
    return digest(sorted(entries))


def _sample_hash(path: Path, size: int) -> str:
    """SHA-256 of the first and last ``EDGE`` bytes of a file of ``size`` bytes (all of it when smaller)."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        sha.update(handle.read(EDGE))
        if size > EDGE:
            handle.seek(max(EDGE, size - EDGE))
            sha.update(handle.read(EDGE))
    return sha.hexdigest()
