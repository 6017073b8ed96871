"""CIFAR-10/100 images for the ResNet problems: read once, cached as uint8, split by the seed.

A benchmark starts many runs on the same images, and decoding 60,000 JPEGs costs far more than a
short run; so a JPEG source is decoded once into uint8 arrays stored in a cache folder (keyed by
the source's content fingerprint, written atomically under a file lock so that concurrent runs
decode it once) and later runs load the arrays in about a second. torchvision's pickled batches
already hold such arrays and are read directly. Images stay uint8 (N, 32, 32, 3) in memory, a
quarter of float32, and are augmented and normalised per batch (``normalise``).

Sources, looked for under ``root``: torchvision's ``cifar-10-batches-py`` / ``cifar-100-python``
(what ``download`` fetches), or an ImageFolder tree ``train/<class>/*.jpg``, ``test/<class>/*.jpg``
as a folder or as a ``.tar.gz`` read as a stream without extracting it. A class's index is its
rank among the sorted class names, as in torchvision's ImageFolder; CIFAR's own label order is
the same alphabetical one, so both kinds of source agree.

The problems' parameters check a source when a suite is validated (``check_source``) and name it
in a run's identity by its content (``source_fingerprint``); both find it as ``load_cifar`` does.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from filelock import FileLock
from PIL import Image

from dfo_bench.atomic import write_atomically
from dfo_bench.errors import ConfigError
from dfo_bench.hashing import digest
from dfo_bench.problems.data import stratified_indices
from dfo_bench.problems.datasets import DOWNLOAD, cache_root, data_root, describe_root, fingerprint
from dfo_bench.seeding import derive_seed

IMAGE_SHAPE = (32, 32, 3)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
CACHE_FORMAT = 1
"""Part of every cache key: raise it when the cached arrays change meaning."""


@dataclass(frozen=True)
class CifarInfo:
    """What differs between CIFAR-10 and CIFAR-100: class count, torchvision's files, statistics."""

    name: str
    title: str
    n_classes: int
    folder: str
    """torchvision's folder of pickled batches, below its root."""
    train_files: tuple[str, ...]
    test_file: str
    meta_file: str
    names_key: str
    labels_key: str
    torchvision_class: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    """Per-channel mean and standard deviation of pixel / 255 over the 50,000 training images."""


DATASETS = {info.name: info for info in (
    CifarInfo(
        "cifar10", "CIFAR-10", 10, "cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch",
        "batches.meta", "label_names", "labels", "CIFAR10",
        mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
    ),
    CifarInfo(
        "cifar100", "CIFAR-100", 100, "cifar-100-python", ("train",), "test",
        "meta", "fine_label_names", "fine_labels", "CIFAR100",
        mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762),
    ),
)}  # fmt: skip


@dataclass(frozen=True)
class ImageSplit:
    """uint8 images (N, 32, 32, 3) and int64 labels (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> ImageSplit:
        return ImageSplit(self.images[indices], self.labels[indices])


@dataclass(frozen=True)
class CifarImages:
    """A whole source: its training and test images and the class names (index = position)."""

    train: ImageSplit
    test: ImageSplit
    classes: tuple[str, ...]


@dataclass(frozen=True)
class CifarSplits:
    """What a CIFAR problem needs: seeded train / val (drawn from train) / test splits."""

    name: str
    train: ImageSplit
    val: ImageSplit
    test: ImageSplit
    classes: tuple[str, ...]

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def load_cifar(
    name: str = "cifar10",
    root: Path | None = None,
    *,
    n_train: int | None = None,
    n_val: int = 5000,
    n_test: int | None = None,
    seed: int = 0,
    cache_dir: Path | None = None,
    download: bool = False,
    limit_per_class: int | None = None,
) -> CifarSplits:
    """Class-balanced splits fixed by ``seed``: ``n_val`` validation images drawn from the
    training set, ``n_train`` training images from the rest (None: all of it) and ``n_test`` test
    images (None: all). The validation set depends on the seed alone, not on ``n_train``.

    ``limit_per_class`` reads only the first k images of each class of each set (in file order),
    for tests and quick looks; it is part of the cache key.
    """
    info = dataset_info(name)
    images = read_cifar(name, root, cache_dir, download, limit_per_class)
    n_pool = len(images.train)
    n_train = n_pool - n_val if n_train is None else n_train
    for what, size, available in (("n_val", n_val, n_pool), ("n_train", n_train, n_pool - n_val)):
        if not info.n_classes <= size <= available:
            raise ConfigError(f"{what} must be between {info.n_classes} and {available}, got {size}")
    val, train = stratified_indices(images.train.labels, (n_val, n_train), seed)
    test = images.test
    if n_test is not None and n_test != len(test):
        if not info.n_classes <= n_test <= len(test):
            raise ConfigError(f"n_test must be between {info.n_classes} and {len(test)}, got {n_test}")
        (indices,) = stratified_indices(test.labels, (n_test,), derive_seed(seed, name, "test"))
        test = test.subset(indices)
    return CifarSplits(name, images.train.subset(train), images.train.subset(val), test, images.classes)


def normalise(images: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    """uint8 images (N, 32, 32, 3) as float32 (N, 3, 32, 32) with each channel of pixel / 255
    shifted and scaled by the dataset's training mean and std; stays on the input's device."""
    info = dataset_info(name)
    x = torch.as_tensor(images)
    if x.dtype != torch.uint8 or x.ndim != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(f"expected uint8 images of shape (N, 32, 32, 3), got {x.dtype} {tuple(x.shape)}")
    x = x.permute(0, 3, 1, 2).to(torch.float32, memory_format=torch.contiguous_format)
    mean = torch.tensor(info.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(info.std, device=x.device).view(1, 3, 1, 1)
    return x.div_(255.0).sub_(mean).div_(std)


def dataset_info(name: str) -> CifarInfo:
    if name not in DATASETS:
        raise ConfigError(f"unknown CIFAR dataset {name!r}; allowed: {', '.join(DATASETS)}")
    return DATASETS[name]


def check_source(dataset: str, root: Path | None, download: bool) -> None:
    """Raise ValueError, one line naming what was looked for where, if ``load_cifar`` would find
    no source under ``root`` (None: ``data_root()``) and may not download one."""
    info = dataset_info(dataset)
    if not download and find_source(info, data_root() if root is None else root) is None:
        raise ValueError(missing_source(info, root))


def source_fingerprint(dataset: str, root: Path | None, download: bool = False) -> str:
    """The content fingerprint of the source ``load_cifar`` reads under ``root`` (None:
    ``data_root()``); ``DOWNLOAD`` where there is none yet and ``download`` will fetch it."""
    info = dataset_info(dataset)
    source = find_source(info, data_root() if root is None else root)
    if source is None:
        if download:
            return DOWNLOAD
        raise ConfigError(missing_source(info, root))
    return content_fingerprint(info, source, source_files(info, source))


def read_cifar(
    name: str, root: Path | None, cache_dir: Path | None = None, download: bool = False, limit_per_class: int | None = None
) -> CifarImages:
    """All images of the source found under ``root`` (None: ``data_root()``; see ``find_source``);
    JPEG sources through the decode cache in ``cache_dir`` (default ``cache_root()``)."""
    info = dataset_info(name)
    folder = data_root() if root is None else root
    source = find_source(info, folder)
    if source is None and download:
        from torchvision import datasets
        from torchvision.datasets.utils import download_and_extract_archive

        dataset = getattr(datasets, info.torchvision_class)
        download_and_extract_archive(dataset.url, folder, filename=dataset.filename, md5=dataset.tgz_md5)
        source = find_source(info, folder)
    if source is None:
        raise ConfigError(missing_source(info, root))
    if holds_batches(info, source):
        return read_pickled(info, source, limit_per_class)
    return cached(info, source, cache_root() if cache_dir is None else cache_dir, limit_per_class)


def missing_source(info: CifarInfo, root: Path | None) -> str:
    """The one-line message for a ``root`` (None: the default) that holds no source."""
    where = describe_root(data_root() if root is None else root, default=root is None)
    return (
        f"no {info.title} data at {where} (need torchvision's {info.folder}/, a folder with "
        "train/<class>/ and test/<class>/ image folders, or a .tar.gz of one); "
        "set root to such a path, or download: true"
    )


def find_source(info: CifarInfo, root: Path) -> Path | None:
    """The first of ``root``, ``root/<torchvision folder>``, ``root/<name>-jpg.tar.gz`` and
    ``root/<name>-jpg`` that is a folder of torchvision's batches, an ImageFolder tree or a .tar.gz."""
    for path in (root, root / info.folder, root / f"{info.name}-jpg.tar.gz", root / f"{info.name}-jpg"):
        if path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
            return path
        if holds_batches(info, path) or all((path / split).is_dir() for split in ("train", "test")):
            return path
    return None


def holds_batches(info: CifarInfo, path: Path) -> bool:
    return (path / info.test_file).is_file()


def source_files(info: CifarInfo, source: Path) -> list[Path]:
    """The files that reading ``source`` reads: the archive, torchvision's batches or the images of a tree."""
    if source.is_file():
        return [source]
    if holds_batches(info, source):
        return [source / name for name in (info.meta_file, *info.train_files, info.test_file)]
    return [file for classes in image_folder_files(source).values() for files in classes.values() for file in files]


def content_fingerprint(info: CifarInfo, source: Path, files: list[Path]) -> str:
    """``fingerprint`` of the source's files (``source_files``), named relative to it; a tree's
    images (tens of thousands of small files) by their names and sizes alone."""
    if source.is_file():
        return fingerprint(files)
    return fingerprint(files, source, sample=holds_batches(info, source))


def cached(info: CifarInfo, source: Path, cache_dir: Path, limit_per_class: int | None) -> CifarImages:
    """The images of a JPEG source, decoded by the first process to need them and stored in
    ``cache_dir``; the others wait on the lock and load the stored arrays."""
    path = cache_path(info, source, cache_dir, limit_per_class)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path.with_name(path.name + ".lock")):
        if not path.exists():
            read = read_image_tar if source.is_file() else read_image_folder
            images = read(info, source, limit_per_class)
            write_atomically(path, lambda tmp: save_images(tmp, images))
            return images
    return load_images(path)


def cache_path(info: CifarInfo, source: Path, cache_dir: Path, limit_per_class: int | None) -> Path:
    """Where the decoded images of ``source`` live: keyed by its content, so that a changed source
    gets a new file and a copied archive finds the old one. A tree's fingerprint misses an image
    replaced by one of the same size, so its latest modification time enters too."""
    files = source_files(info, source)
    key = {
        "dataset": info.name,
        "source": content_fingerprint(info, source, files),
        "modified": None if source.is_file() else max((file.stat().st_mtime_ns for file in files), default=0),
        "limit_per_class": limit_per_class,
        "format": CACHE_FORMAT,
    }
    return cache_dir / "cifar" / f"{info.name}-{digest(key)}.npz"


def save_images(path: Path, images: CifarImages) -> None:
    with open(path, "wb") as handle:
        np.savez(
            handle,
            train_images=images.train.images,
            train_labels=images.train.labels,
            test_images=images.test.images,
            test_labels=images.test.labels,
            classes=np.array(images.classes),
        )


def load_images(path: Path) -> CifarImages:
    with np.load(path, allow_pickle=False) as stored:
        return CifarImages(
            ImageSplit(stored["train_images"], stored["train_labels"]),
            ImageSplit(stored["test_images"], stored["test_labels"]),
            tuple(str(name) for name in stored["classes"]),
        )


def image_folder_files(root: Path) -> dict[str, dict[str, list[Path]]]:
    """The images of ``root/{train,test}/<class>/*`` by split and class, each class's in name order."""
    return {
        split: {
            folder.name: sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            for folder in sorted(p for p in (root / split).iterdir() if p.is_dir())
        }
        for split in ("train", "test")
    }


def read_image_folder(info: CifarInfo, root: Path, limit_per_class: int | None) -> CifarImages:
    """Decode the images of an ImageFolder tree (see ``image_folder_files``)."""
    found = {
        split: {
            label: [decode_image(file.read_bytes(), file) for file in files[:limit_per_class]] for label, files in classes.items()
        }
        for split, classes in image_folder_files(root).items()
    }
    return assemble(info, root, found)


def read_image_tar(info: CifarInfo, path: Path, limit_per_class: int | None) -> CifarImages:
    """Decode the ``train/<class>/*`` and ``test/<class>/*`` images of a .tar.gz as it streams
    past (at any depth, in archive order); with a limit, stop once every class has enough."""
    found: dict[str, dict[str, list[np.ndarray]]] = {"train": {}, "test": {}}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member, (split, label) in image_members(tar, found):
                images = found[split].setdefault(label, [])
                if limit_per_class is not None and len(images) >= limit_per_class:
                    continue
                data = tar.extractfile(member).read()  # type: ignore[union-attr]  # a file has contents
                images.append(decode_image(data, f"{path}:{member.name}"))
                if limit_per_class is not None and all(
                    len(classes) == info.n_classes and min(map(len, classes.values())) >= limit_per_class
                    for classes in found.values()
                ):
                    break
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ConfigError(f"'{path}' is not a readable .tar.gz: {error}") from None
    return assemble(info, path, found)


def image_members(tar: tarfile.TarFile, splits: dict[str, Any]) -> Iterator[tuple[tarfile.TarInfo, tuple[str, str]]]:
    """The image files of the archive named ``.../<split>/<class>/<file>``, with (split, class)."""
    for member in tar:
        *_, split, label, file = ("", "", *member.name.split("/"))
        if member.isfile() and split in splits and file.lower().endswith(IMAGE_SUFFIXES):
            yield member, (split, label)


def decode_image(data: bytes, where: object) -> np.ndarray:
    """An encoded 32x32 image as uint8 (32, 32, 3) RGB."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            pixels = np.asarray(image.convert("RGB"))
    except OSError as error:  # PIL's UnidentifiedImageError included
        raise ConfigError(f"'{where}' is not a readable image: {error}") from None
    if pixels.shape != IMAGE_SHAPE:
        raise ConfigError(f"'{where}' is {pixels.shape[1]}x{pixels.shape[0]} pixels, expected 32x32")
    return pixels


def assemble(info: CifarInfo, where: Path, found: dict[str, dict[str, list[np.ndarray]]]) -> CifarImages:
    """Stack the decoded images of each split, labelled by the rank of their sorted class name."""
    classes = sorted(label for label, images in found["train"].items() if images)
    if len(classes) != info.n_classes:
        raise ConfigError(f"'{where}' has {len(classes)} classes of images under train/, {info.title} has {info.n_classes}")
    if sorted(label for label, images in found["test"].items() if images) != classes:
        raise ConfigError(f"'{where}': the classes of images under test/ differ from those under train/")
    splits = []
    for split in ("train", "test"):
        counts = [len(found[split][label]) for label in classes]
        images = np.stack([image for label in classes for image in found[split][label]])
        splits.append(ImageSplit(images, np.repeat(np.arange(len(classes), dtype=np.int64), counts)))
    train, test = splits
    return CifarImages(train, test, tuple(classes))


class BatchUnpickler(pickle.Unpickler):
    """Unpickles what CIFAR's batch files hold (dicts, lists, strings, NumPy arrays) and nothing else."""

    ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR batch")
        return super().find_class(module, name)


def read_batch(path: Path, *keys: str) -> dict[str, Any]:
    """One of torchvision's CIFAR pickles (Python 2 pickles, hence latin1) holding ``keys``."""
    try:
        with open(path, "rb") as handle:
            batch = BatchUnpickler(handle, encoding="latin1").load()
    except (OSError, EOFError, ValueError, pickle.UnpicklingError) as error:
        raise ConfigError(f"'{path}' is not a readable CIFAR batch: {error}") from None
    missing = [key for key in keys if not isinstance(batch, dict) or key not in batch]
    if missing:
        raise ConfigError(f"'{path}' is not a CIFAR batch: it lacks {', '.join(missing)}")
    return batch


def read_pickled(info: CifarInfo, folder: Path, limit_per_class: int | None) -> CifarImages:
    """torchvision's folder of pickled batches: rows of 3,072 bytes, the red, green, blue planes."""
    classes = tuple(read_batch(folder / info.meta_file, info.names_key)[info.names_key])
    splits = []
    for files in (info.train_files, (info.test_file,)):
        batches = [read_batch(folder / file, "data", info.labels_key) for file in files]
        planes = np.concatenate([np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32) for batch in batches])
        labels = np.concatenate([np.asarray(batch[info.labels_key], dtype=np.int64) for batch in batches])
        split = ImageSplit(np.ascontiguousarray(planes.transpose(0, 2, 3, 1)), labels)
        if limit_per_class is not None:
            kept = [np.flatnonzero(labels == c)[:limit_per_class] for c in np.unique(labels)]
            split = split.subset(np.sort(np.concatenate(kept)))
        splits.append(split)
    train, test = splits
    return CifarImages(train, test, classes)
