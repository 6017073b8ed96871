"""Data locations enter a run's identity by content: the same files anywhere give the same
identity, a changed file a new one; and a location is checked, in one line, when the
parameters are validated."""

from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from dfo_bench.errors import ConfigError
from dfo_bench.problems import cifar_data
from dfo_bench.problems.cifar_data import check_source, read_cifar, source_fingerprint
from dfo_bench.problems.datasets import DOWNLOAD, cache_root, data_root, fingerprint
from dfo_bench.problems.mnist import MNISTParams

from .conftest import fake_cifar_root, fake_mnist
from .test_cifar_data import image_files, write_folder, write_tar, write_torchvision_cifar10

IMAGES = "t10k-images-idx3-ubyte"
LABELS = "t10k-labels-idx1-ubyte"


def plain_mnist(folder: Path, n: int = 300, prefix: str = "t10k") -> Path:
    """Uncompressed IDX files (300 images: 235 KB, more than both sampled ends) in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    fake_mnist(folder, n, prefix)
    for packed in folder.glob(f"{prefix}-*.gz"):
        packed.with_suffix("").write_bytes(gzip.decompress(packed.read_bytes()))
        packed.unlink()
    return folder


def edit(path: Path, offset: int, insert: bytes = b"") -> None:
    """Flip the byte at offset (negative: from the end), or insert bytes there."""
    data = bytearray(path.read_bytes())
    if insert:
        data[offset:offset] = insert
    else:
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def identity(root: Path, **params: object) -> dict[str, object]:
    return MNISTParams(root=root, **params).identity()  # type: ignore[arg-type]


def test_mnist_identity_names_the_idx_files_by_content_not_by_folder(tmp_path: Path) -> None:
    a = plain_mnist(tmp_path / "a")
    b = shutil.copytree(a, tmp_path / "elsewhere" / "b")
    assert identity(a) == identity(b)
    assert set(identity(a)) == {"data"}  # root and download are replaced by the fingerprint
    assert identity(a, n_train=100) == {"n_train": 100, "data": identity(b)["data"]}
    original = identity(a)
    image_file = b / IMAGES
    for offset, insert in (
        (5, b""),  # one byte of the IDX header (the image count)
        (-1, b""),  # the last byte
        (image_file.stat().st_size // 2, b"\0" * 784),  # the size alone: both ends unchanged
    ):
        shutil.copyfile(a / IMAGES, image_file)
        assert identity(b) == original
        edit(image_file, offset, insert)
        assert identity(b) != original, (offset, insert)


def test_mnist_identity_covers_exactly_the_files_that_are_read(tmp_path: Path) -> None:
    a = plain_mnist(tmp_path / "a")
    original = identity(a)
    (a / "README").write_text("not data")
    plain_mnist(a, n=20, prefix="train")
    (a / "train-images-idx3-ubyte").rename(a / "stray")  # an incomplete train set is not read
    assert identity(a) == original
    (a / "stray").rename(a / "train-images-idx3-ubyte")
    assert identity(a) != original  # a complete one is
    gz = plain_mnist(tmp_path / "gz")
    for stem in (IMAGES, LABELS):  # the same content gzipped is another file
        (gz / f"{stem}.gz").write_bytes(gzip.compress((gz / stem).read_bytes(), mtime=0))
        (gz / stem).unlink()
    assert identity(gz) != original


def test_mnist_download_without_files_has_a_fixed_identity(tmp_path: Path) -> None:
    assert identity(tmp_path / "a", download=True) == identity(tmp_path / "b", download=True) == {"data": DOWNLOAD}
    a = plain_mnist(tmp_path / "a")
    assert identity(a, download=True) == identity(a)  # files present: they are read, not downloaded


def test_missing_mnist_files_are_named_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as error:
        MNISTParams(root=tmp_path / "absent")
    (message,) = (e["msg"] for e in error.value.errors())
    assert f"no MNIST IDX files in '{tmp_path / 'absent'}' (need t10k-images" in message and "\n" not in message
    monkeypatch.setenv("DFO_BENCH_DATA", str(tmp_path))
    with pytest.raises(ValidationError, match=r"in '.*mnist' \(the default: \$DFO_BENCH_DATA"):
        MNISTParams()


def test_cifar_archive_is_fingerprinted_by_content_wherever_it_is(tmp_path: Path) -> None:
    archive = fake_cifar_root() / "cifar10-jpg.tar.gz"
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        shutil.copyfile(archive, folder / archive.name)
    original = source_fingerprint("cifar10", a)
    assert source_fingerprint("cifar10", b) == original == source_fingerprint("cifar10", b / archive.name)
    assert source_fingerprint("cifar100", fake_cifar_root()) != original
    edit(b / archive.name, 4)  # a byte of the gzip header
    assert source_fingerprint("cifar10", b) != original
    write_tar(b / archive.name, image_files(10, 6, 3))  # another archive
    assert source_fingerprint("cifar10", b) != original


def test_cifar_folders_are_fingerprinted_by_the_files_that_are_read(tmp_path: Path) -> None:
    files = image_files(10, 2, 1)
    a, b = write_folder(tmp_path / "a", files), write_folder(tmp_path / "b", files)
    original = source_fingerprint("cifar10", a)
    assert source_fingerprint("cifar10", b) == original
    (b / "notes.txt").write_text("not an image")
    assert source_fingerprint("cifar10", b) == original
    (b / "train" / "c00" / "001.jpg").rename(b / "test" / "c00" / "001.jpg")  # same name and size, other split
    assert source_fingerprint("cifar10", b) != original
    batches = tmp_path / "batches"
    write_torchvision_cifar10(batches, per_class=1)
    copy = shutil.copytree(batches, tmp_path / "copy")
    original = source_fingerprint("cifar10", batches)
    assert source_fingerprint("cifar10", copy) == original == source_fingerprint("cifar10", copy / "cifar-10-batches-py")
    shutil.copyfile(fake_cifar_root() / "cifar10-jpg.tar.gz", copy / "cifar10-jpg.tar.gz")
    assert source_fingerprint("cifar10", copy) == original  # the batches come first, as in load_cifar
    edit(copy / "cifar-10-batches-py" / "data_batch_3", -1)
    assert source_fingerprint("cifar10", copy) != original


def test_cifar_source_is_checked_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=f"^no CIFAR-10 data at '{tmp_path}' .*download: true$") as error:
        check_source("cifar10", tmp_path, download=False)
    assert "\n" not in str(error.value)
    check_source("cifar10", tmp_path, download=True)
    assert source_fingerprint("cifar10", tmp_path, download=True) == DOWNLOAD
    with pytest.raises(ConfigError, match="no CIFAR-10 data at"):
        source_fingerprint("cifar10", tmp_path)
    check_source("cifar10", fake_cifar_root(), download=False)
    check_source("cifar100", fake_cifar_root() / "cifar100-jpg.tar.gz", download=False)
    monkeypatch.setenv("DFO_BENCH_DATA", str(tmp_path))
    with pytest.raises(ValueError, match=r"at '.*' \(the default: \$DFO_BENCH_DATA, else"):
        check_source("cifar100", None, download=False)


def test_decode_cache_follows_the_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads = []
    for name in ("read_image_tar", "read_image_folder"):
        real = getattr(cifar_data, name)
        monkeypatch.setattr(cifar_data, name, lambda *args, real=real: reads.append(args) or real(*args))
    cache = tmp_path / "cache"
    archive = fake_cifar_root() / "cifar10-jpg.tar.gz"
    (tmp_path / "moved").mkdir()
    read_cifar("cifar10", archive, cache)
    read_cifar("cifar10", Path(shutil.copy(archive, tmp_path / "moved")), cache)  # a copy elsewhere: no new decode
    assert len(reads) == 1
    tree = write_folder(tmp_path / "tree", image_files(10, 1, 1))
    read_cifar("cifar10", tree, cache)
    read_cifar("cifar10", tree, cache)
    assert len(reads) == 2
    os.utime(tree / "test" / "c04" / "000.jpg", ns=(time.time_ns(), time.time_ns() + 10**9))  # as if replaced in place
    read_cifar("cifar10", tree, cache)
    assert len(reads) == 3


def test_data_and_cache_roots_follow_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DFO_BENCH_DATA", raising=False)
    monkeypatch.delenv("DFO_BENCH_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_root() == cache_root() == tmp_path / "home" / ".cache" / "dfo-bench"
    monkeypatch.setenv("DFO_BENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DFO_BENCH_CACHE", str(tmp_path / "cache"))
    assert data_root("mnist") == tmp_path / "data" / "mnist" and cache_root() == tmp_path / "cache"
    plain_mnist(tmp_path / "data" / "mnist")
    assert MNISTParams().root == tmp_path / "data" / "mnist"
    assert MNISTParams().identity() == identity(tmp_path / "data" / "mnist")
    shutil.copy(fake_cifar_root() / "cifar10-jpg.tar.gz", tmp_path / "data")
    assert source_fingerprint("cifar10", None) == source_fingerprint("cifar10", fake_cifar_root())


def test_fingerprint_reads_names_sizes_and_both_ends_only(tmp_path: Path) -> None:
    big, small = tmp_path / "big", tmp_path / "small"
    big.write_bytes(bytes(range(256)) * 1024)  # 256 KiB
    small.write_bytes(b"x" * 1000)
    original, listing = fingerprint([big, small]), fingerprint([big, small], sample=False)
    assert fingerprint([small, big]) == original == fingerprint([big, small], tmp_path)
    edit(big, 128 * 1024)
    assert fingerprint([big, small]) == original  # the middle of a large file is never read
    edit(small, 500)
    assert fingerprint([big, small]) != original  # a small file is read whole
    assert fingerprint([big, small], sample=False) == listing  # names and sizes alone
    small.write_bytes(b"x" * 1001)
    assert fingerprint([big, small], sample=False) != listing
    small.rename(tmp_path / "renamed")
    assert fingerprint([big, tmp_path / "renamed"], sample=False) != listing
