from __future__ import annotations

import functools
import gzip
import os
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DFO_BENCH_DATA") or REPO.parent / "shared" / "data")
"""Real data for the tests that need it: $DFO_BENCH_DATA, else ../shared/data beside the checkout."""
SHARED_MNIST = SHARED_DATA / "mnist"

needs_mnist = pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason=f"no MNIST files in {SHARED_MNIST}")

# Decoded-image caches of the tests go to a temporary folder, never to the user's ~/.cache.
os.environ.setdefault("DFO_BENCH_CACHE", tempfile.mkdtemp(prefix="dfo-bench-test-cache-"))


@pytest.fixture
def write_suite(tmp_path: Path):
    """Write a suite dict (or raw text) as YAML and return its path."""

    def write(content: dict | str, name: str = "suite.yaml") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
        return path

    return write


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), **extra)
    return env


CLI = [sys.executable, "-m", "dfo_bench"]

ENGINES: dict[str, dict[str, Any]] = {
    "process": {"kind": "process", "workers": 2},
    "dask": {"kind": "dask", "workers": 2},
    "submitit-local": {"kind": "slurm", "cluster": "local", "array_parallelism": 2, "time_min": 5},
}
"""Executor configs of the engines that tests compare with the sequential one."""

GOOD: dict[str, Any] = {
    "name": "good",
    "problems": ["digits-mlp"],
    "optimizers": ["random-search", {"name": "de", "params": {"F": 0.8}}],
    "seeds": [0, 1, 2],
    "budget": {"evaluations": 100},
}
"""A small valid suite that tests change one field at a time."""


def with_changes(**changes: Any) -> dict[str, Any]:
    """GOOD with fields replaced; None removes one."""
    return {k: v for k, v in {**GOOD, **changes}.items() if v is not None}


def write_idx(path: Path, array: np.ndarray) -> None:
    """A gzipped uint8 IDX file, as MNIST ships them."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def fake_mnist(folder: Path, n: int, prefix: str) -> None:
    """n random 28x28 images with balanced labels as ``prefix``-images/labels IDX files."""
    rng = np.random.default_rng(0)
    write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
    write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)


@functools.cache
def fake_cifar_root() -> Path:
    """A folder with small generated CIFAR-10 (60 + 20 images) and CIFAR-100 (200 + 200) archives
    in the shared archive's layout, written once per test session."""
    from .test_cifar_data import image_files, write_tar

    root = Path(tempfile.mkdtemp(prefix="dfo-bench-fake-cifar-"))
    write_tar(root / "cifar10-jpg.tar.gz", image_files(10, 6, 2))
    write_tar(root / "cifar100-jpg.tar.gz", image_files(100, 2, 2))
    return root
