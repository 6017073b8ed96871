"""The 784-32-10 MLP on MNIST: loss on a 5,000-image training subset, accuracy on val and test.

Data comes from any folder of IDX files (MNIST, Fashion-MNIST and KMNIST share the layout),
optionally gzipped, or from torchvision's download where a network exists. Where the folder
holds only the official test files, the seed draws a stratified train/val/test split of them.
A run's identity names the IDX files by a fingerprint of their content, not by the folder's path,
so the same files elsewhere give the same run ids.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import torch
from pydantic import Field, model_validator

from dfo_bench.params import ParamsModel
from dfo_bench.problems.data import ClassificationData, Split, stratified_indices
from dfo_bench.problems.datasets import DOWNLOAD, data_root, describe_root, fingerprint
from dfo_bench.problems.mlp import MLPClassification, MLPParams

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_DTYPES: dict[int, npt.DTypeLike] = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (plain or .gz) as a NumPy array of its declared type and shape."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=IDX_DTYPES[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape} but holds {data.size} values")
    return data.reshape(shape)


def find_idx(root: Path, stem: str) -> Path | None:
    """``stem`` or ``stem.gz`` in root, or in torchvision's ``MNIST/raw`` below it."""
    for folder in (root, root / "MNIST" / "raw"):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def available_sets(root: Path) -> list[str]:
    return [s for s, stems in FILES.items() if all(find_idx(root, stem) for stem in stems)]


def read_sets(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every complete set in root (``train``, ``test``): images (N, 784) float32 in [0, 1], labels int64."""
    sets = {}
    for name in available_sets(root):
        images, labels = (read_idx(find_idx(root, stem)) for stem in FILES[name])  # type: ignore[arg-type]
        sets[name] = (images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0), labels.astype(np.int64))
    return sets


def mnist_splits(root: Path, seed: int, sizes: tuple[int, int, int], *, whole_test: bool) -> ClassificationData:
    """Stratified train / val / test splits of the IDX sets in root, drawn by ``seed``: where both
    sets are there, train and val from the official training set and test the official test set
    (``whole_test``) or a subset of it; else all three from the test set."""
    sets = read_sets(root)
    if "train" in sets:
        x, y = sets["train"]
        train, val = stratified_indices(y, sizes[:2], seed)
        test_x, test_y = sets["test"]
        if not whole_test:
            (test,) = stratified_indices(test_y, sizes[2:], seed)
            test_x, test_y = test_x[test], test_y[test]
        splits = [(x[train], y[train]), (x[val], y[val]), (test_x, test_y)]
    else:
        x, y = sets["test"]
        splits = [(x[i], y[i]) for i in stratified_indices(y, sizes, seed)]
    train_split, val_split, test_split = (Split(torch.from_numpy(sx), torch.from_numpy(sy)) for sx, sy in splits)
    return ClassificationData(train_split, val_split, test_split, n_classes=10)


def idx_files(root: Path) -> list[Path]:
    """The IDX files of root that ``MNISTMLP.load_data`` reads: those of every complete set."""
    return [find_idx(root, stem) for name in available_sets(root) for stem in FILES[name]]  # type: ignore[misc]


class MNISTParams(MLPParams):
    locations: ClassVar[tuple[str, ...]] = ("root", "download")
    root: Path = Field(default_factory=lambda: data_root("mnist"))
    """Folder of IDX files; default $DFO_BENCH_DATA/mnist or ~/.cache/dfo-bench/mnist."""
    download: bool = False
    """Fetch MNIST with torchvision into root if it is not there (needs a network)."""
    n_train: int = Field(5000, ge=10)
    n_val: int = Field(2500, ge=10)
    n_test: int = Field(2500, ge=10)
    """Used only when the folder holds the official test set alone (split by the seed)."""

    @model_validator(mode="after")
    def _data_present(self) -> MNISTParams:
        if not self.download and "test" not in available_sets(self.root):
            raise ValueError(
                f"no MNIST IDX files in {describe_root(self.root, 'root' not in self.model_fields_set)} "
                "(need t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]); "
                "set root to such a folder, or download: true"
            )
        return self

    def downloads(self) -> bool:
        """Whether loading fetches MNIST first: download is on and the test set is not in root."""
        return self.download and "test" not in available_sets(self.root)

    def data_fingerprint(self) -> str:
        """The IDX files that will be read, wherever they are (or ``DOWNLOAD``)."""
        return DOWNLOAD if self.downloads() else fingerprint(idx_files(self.root))


class MNISTMLP(MLPClassification):
    """784-32-10 MLP (25,450 weights) on a 5,000-image MNIST training subset."""

    name = "mnist-mlp"
    features = 784
    description = "784-32-10 MLP on MNIST (25,450 weights), loss on a 5,000-image training subset"
    Params = MNISTParams
    params: MNISTParams

    @classmethod
    def train_size_of(cls, params: ParamsModel) -> int | None:
        return params.n_train if isinstance(params, MNISTParams) else None

    def load_data(self) -> ClassificationData:
        root = self.params.root
        if self.params.downloads():
            from torchvision.datasets import MNIST

            for train_set in (True, False):
                MNIST(str(root), train=train_set, download=True)
        p = self.params
        return mnist_splits(root, self.seed, (p.n_train, p.n_val, p.n_test), whole_test=True)
