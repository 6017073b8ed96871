from __future__ import annotations

import gzip
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DFO_BENCH_DATA") or REPO.parent / "shared" / "data")
"""Real data for the tests that need it: $DFO_BENCH_DATA, else ../shared/data beside the checkout."""
SHARED_MNIST = SHARED_DATA / "mnist"

needs_mnist = pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason=f"no MNIST files in {SHARED_MNIST}")


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


def write_idx(path: Path, array: np.ndarray) -> None:
    """A gzipped uint8 IDX file, as MNIST ships them."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def fake_mnist(folder: Path, n: int, prefix: str) -> None:
    """n random 28x28 images with balanced labels as ``prefix``-images/labels IDX files."""
    rng = np.random.default_rng(0)
    write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
    write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
