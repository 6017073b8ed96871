"""The CIFAR data layer on small generated sources of each kind, plus one look at the real archive.

Generated images are flat colours that say what they are: red and blue = 40 + 16 × the tens and
units of the class index, green = 8 × their number within the class, so that labels and identities
survive JPEG compression.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dfo_bench.errors import ConfigError
from dfo_bench.problems import cifar_data
from dfo_bench.problems.cifar_data import DATASETS, load_cifar, normalise, read_cifar

from .conftest import SHARED_DATA

SHARED_CIFAR10 = SHARED_DATA / "cifar10-jpg.tar.gz"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def jpeg(label: int, number: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (40 + 16 * (label // 10), 8 * number, 40 + 16 * (label % 10))).save(buffer, "JPEG")
    return buffer.getvalue()


def image_files(n_classes: int, n_train: int, n_test: int) -> list[tuple[str, bytes]]:
    """(relative path, JPEG) of an ImageFolder tree, classes in reverse name order."""
    return [
        (f"{split}/c{label:02d}/{number:03d}.jpg", jpeg(label, number))
        for split, n in (("train", n_train), ("test", n_test))
        for label in reversed(range(n_classes))
        for number in range(n)
    ]


def write_folder(root: Path, files: list[tuple[str, bytes]]) -> Path:
    for name, data in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def write_tar(path: Path, files: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files:
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return path


def labels_from_colour(images: np.ndarray) -> np.ndarray:
    tens, units = np.rint((images[:, :, :, [0, 2]].mean(axis=(1, 2)) - 40) / 16).astype(np.int64).T
    return 10 * tens + units


def write_torchvision_cifar10(root: Path, per_class: int) -> np.ndarray:
    """A tiny ``cifar-10-batches-py`` in the official layout (dicts of planar uint8 rows and a
    label list, pickled with Python-2-compatible protocol 2); pixel (h, w) of an image of class c
    is (c, w, h). Returns the image of class 3 as it should read back."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    h, w = np.mgrid[0:32, 0:32]
    labels = [c for c in range(10) for _ in range(per_class)]
    images = np.stack([np.stack([np.full((32, 32), c), w, h], axis=-1) for c in labels]).astype(np.uint8)
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"batch_label": name, "data": rows, "labels": labels, "filenames": [f"{i}.png" for i in labels]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {"label_names": list(CIFAR10_CLASSES), "num_cases_per_batch": len(labels), "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return images[labels.index(3)]


def test_tar_gz_is_decoded_with_labels_from_sorted_class_folders(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "tiny.tar.gz", image_files(10, n_train=3, n_test=2))
    images = read_cifar("cifar10", archive, tmp_path / "cache")
    assert images.classes == tuple(f"c{label:02d}" for label in range(10))
    assert images.train.images.shape == (30, 32, 32, 3) and images.train.images.dtype == np.uint8
    assert images.test.images.shape == (20, 32, 32, 3)
    for split in (images.train, images.test):
        assert split.labels.dtype == np.int64
        np.testing.assert_array_equal(labels_from_colour(split.images), split.labels)


def test_folder_and_tar_of_100_classes_read_the_same(tmp_path: Path) -> None:
    files = image_files(100, n_train=2, n_test=1)
    from_folder = read_cifar("cifar100", write_folder(tmp_path / "tree", files), tmp_path / "cache")
    from_tar = read_cifar("cifar100", write_tar(tmp_path / "tree.tar.gz", files), tmp_path / "cache")
    assert len(from_folder.classes) == 100 and from_folder.classes == from_tar.classes
    for a, b in ((from_folder.train, from_tar.train), (from_folder.test, from_tar.test)):
        np.testing.assert_array_equal(a.images, b.images)
        np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(np.bincount(from_folder.train.labels), np.full(100, 2))
    np.testing.assert_array_equal(labels_from_colour(from_folder.train.images), from_folder.train.labels)


def test_torchvision_folder_is_read_in_height_width_channel_order(tmp_path: Path) -> None:
    expected = write_torchvision_cifar10(tmp_path, per_class=2)
    for root in (tmp_path, tmp_path / "cifar-10-batches-py"):
        images = read_cifar("cifar10", root, tmp_path / "cache")
        assert images.classes == CIFAR10_CLASSES
        assert images.train.images.shape == (100, 32, 32, 3) and len(images.test) == 20
        assert images.train.images.flags.c_contiguous
        np.testing.assert_array_equal(images.train.images[images.train.labels == 3][0], expected)
    assert not (tmp_path / "cache").exists()  # pickled arrays need no decode cache
    limited = read_cifar("cifar10", tmp_path, limit_per_class=1)
    np.testing.assert_array_equal(limited.test.labels, np.arange(10))


def test_torchvision_pickles_may_not_name_other_globals(tmp_path: Path) -> None:
    write_torchvision_cifar10(tmp_path, per_class=1)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps({"data": os.getcwd}, protocol=2))
    with pytest.raises(ConfigError, match=r"test_batch.*getcwd is not allowed in a CIFAR batch"):
        read_cifar("cifar10", tmp_path)


def test_limit_per_class_stops_streaming_once_every_class_has_enough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stray class folder at the end of the archive: seen only by a full read.
    archive = write_tar(tmp_path / "tiny.tar.gz", [*image_files(10, n_train=3, n_test=2), ("train/zz/0.jpg", jpeg(0, 0))])
    decoded = []
    real_decode = cifar_data.decode_image
    monkeypatch.setattr(cifar_data, "decode_image", lambda data, where: decoded.append(where) or real_decode(data, where))
    images = read_cifar("cifar10", archive, tmp_path / "cache", limit_per_class=1)
    assert len(decoded) == 20
    np.testing.assert_array_equal(images.train.labels, np.arange(10))
    np.testing.assert_array_equal(images.test.labels, np.arange(10))
    with pytest.raises(ConfigError, match="has 11 classes of images under train/, CIFAR-10 has 10"):
        read_cifar("cifar10", archive, tmp_path / "cache")


def test_splits_are_class_balanced_disjoint_and_fixed_by_the_seed(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "tiny.tar.gz", image_files(10, n_train=12, n_test=4))

    def load(seed: int, n_train: int | None = 50) -> cifar_data.CifarSplits:
        return load_cifar("cifar10", archive, n_train=n_train, n_val=30, n_test=20, seed=seed, cache_dir=tmp_path / "cache")

    def ids(split: cifar_data.ImageSplit) -> set[bytes]:
        return {image.tobytes() for image in split.images}

    a, b, c = load(0), load(0), load(1)
    assert (len(a.train), len(a.val), len(a.test), a.n_classes) == (50, 30, 20, 10)
    for split, per_class in ((a.train, 5), (a.val, 3), (a.test, 2)):
        np.testing.assert_array_equal(np.bincount(split.labels, minlength=10), np.full(10, per_class))
        np.testing.assert_array_equal(labels_from_colour(split.images), split.labels)
    assert len(ids(a.train)) == 50 and not ids(a.train) & ids(a.val)
    for name in ("train", "val", "test"):
        assert ids(getattr(a, name)) == ids(getattr(b, name))
        assert ids(getattr(a, name)) != ids(getattr(c, name))
    rest = load(0, n_train=None)
    assert ids(rest.val) == ids(a.val) and len(rest.train) == 90 and ids(a.train) < ids(rest.train)
    with pytest.raises(ConfigError, match="n_train must be between 10 and 90, got 91"):
        load(0, n_train=91)


def test_decoded_images_are_cached_and_reloaded_without_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = write_tar(tmp_path / "tiny.tar.gz", image_files(10, n_train=2, n_test=1))
    cache = tmp_path / "cache"
    reads = []
    real_read = cifar_data.read_image_tar
    monkeypatch.setattr(cifar_data, "read_image_tar", lambda *args: reads.append(args) or real_read(*args))
    first = read_cifar("cifar10", archive, cache)
    (stored,) = (cache / "cifar").glob("cifar10-*.npz")
    mtime = stored.stat().st_mtime_ns
    second = read_cifar("cifar10", archive, cache)
    assert len(reads) == 1 and stored.stat().st_mtime_ns == mtime
    assert second.classes == first.classes
    np.testing.assert_array_equal(second.train.images, first.train.images)
    np.testing.assert_array_equal(second.test.labels, first.test.labels)
    os.utime(archive, ns=(time.time_ns(), time.time_ns() + 10**9))  # the key is the content, not the mtime
    read_cifar("cifar10", archive, cache)
    assert len(reads) == 1
    write_tar(archive, image_files(10, n_train=2, n_test=1)[::-1])  # a changed source is decoded anew
    read_cifar("cifar10", archive, cache)
    assert len(reads) == 2 and len(list((cache / "cifar").glob("*.npz"))) == 2


def test_missing_or_invalid_sources_are_named_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"no CIFAR-100 data at '{tmp_path / 'absent'}'.*download: true") as error:
        read_cifar("cifar100", tmp_path / "absent")
    assert "\n" not in str(error.value)
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a tar")
    with pytest.raises(ConfigError, match=re.escape("broken.tar.gz' is not a readable .tar.gz")):
        read_cifar("cifar10", broken, tmp_path / "cache")
    tree = write_folder(tmp_path / "tree", image_files(10, n_train=1, n_test=1))
    (tree / "test" / "c03" / "000.jpg").write_bytes(b"garbage")
    with pytest.raises(ConfigError, match=re.escape("c03/000.jpg' is not a readable image")):
        read_cifar("cifar10", tree, tmp_path / "cache")
    with pytest.raises(ConfigError, match="unknown CIFAR dataset 'cifar20'"):
        read_cifar("cifar20", tree)


def test_normalise_gives_channels_first_float32_scaled_by_the_dataset_statistics() -> None:
    info = DATASETS["cifar100"]
    images = np.zeros((2, 32, 32, 3), np.uint8)
    images[0] = np.rint(np.array(info.mean) * 255).astype(np.uint8)
    images[1, 5, 7] = (255, 0, 0)
    x = normalise(images, "cifar100")
    assert x.dtype == torch.float32 and x.shape == (2, 3, 32, 32) and x.is_contiguous()
    assert x[0].abs().max() < 0.01
    assert x[1, 0, 5, 7] == pytest.approx((1 - info.mean[0]) / info.std[0], rel=1e-5)
    assert x[1, 1, 5, 7] == pytest.approx(-info.mean[1] / info.std[1], rel=1e-5)
    torch.testing.assert_close(normalise(torch.from_numpy(images), "cifar100"), x)


@pytest.mark.skipif(not SHARED_CIFAR10.is_file(), reason=f"no {SHARED_CIFAR10}")
def test_real_cifar10_archive_reads_sane_images(tmp_path: Path) -> None:
    splits = load_cifar("cifar10", SHARED_CIFAR10, n_val=50, seed=0, cache_dir=tmp_path, limit_per_class=30)
    assert splits.classes == CIFAR10_CLASSES
    assert (len(splits.train), len(splits.val), len(splits.test)) == (250, 50, 300)
    assert splits.train.images.shape == (250, 32, 32, 3) and splits.train.images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(splits.test.labels), np.full(10, 30))
    assert 100 < splits.test.images.mean() < 140 and splits.test.images.std() > 40
