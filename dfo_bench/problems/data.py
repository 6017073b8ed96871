"""Data shared by classification problems: seeded stratified splits and circular batches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from dfo_bench.problems.base import check_split
from dfo_bench.seeding import derive_seed


@dataclass(frozen=True)
class Split:
    """Inputs (N, features) float32 and integer labels (N,) of one split."""

    x: torch.Tensor
    y: torch.Tensor

    def to(self, device: torch.device) -> Split:
        return Split(self.x.to(device), self.y.to(device))


@dataclass(frozen=True)
class ClassificationData:
    """The three splits of a problem; the objective is computed on ``train``."""

    train: Split
    val: Split
    test: Split
    n_classes: int

    def split(self, name: str) -> Split:
        check_split(name)
        return getattr(self, name)

    def to(self, device: torch.device) -> ClassificationData:
        return ClassificationData(self.train.to(device), self.val.to(device), self.test.to(device), self.n_classes)


def stratified_indices(labels: np.ndarray, sizes: tuple[int, ...], seed: int) -> list[np.ndarray]:
    """Disjoint class-balanced index sets of the given sizes, drawn by ``seed``."""
    if sum(sizes) > len(labels):
        raise ValueError(f"cannot draw {sum(sizes)} samples from {len(labels)}")
    rest = np.arange(len(labels))
    parts = []
    for i, size in enumerate(sizes):
        if size == len(rest):
            parts.append(rest)
            break
        state = derive_seed(seed, "split", i) % 2**32
        take, rest = train_test_split(rest, train_size=size, stratify=labels[rest], random_state=state)
        parts.append(np.sort(take))
    return parts


class CircularBatches:
    """Chunks of a seeded shuffle of N indices, taken in turn without overlap.

    A new shuffle starts when the set wraps around, so every sample is used exactly once per
    cycle; a chunk that would cross the wrap is completed from the next shuffle.
    """

    def __init__(self, n: int, batch_size: int, generator: torch.Generator) -> None:
        if not 1 <= batch_size <= n:
            raise ValueError(f"batch size must be between 1 and {n}, got {batch_size}")
        self.n = n
        self.batch_size = batch_size
        self._generator = generator
        self._order = torch.randperm(n, generator=generator)
        self._position = 0

    def next(self) -> torch.Tensor:
        """The indices of the next chunk."""
        end = self._position + self.batch_size
        if end <= self.n:
            chunk = self._order[self._position : end]
            self._position = end
            return chunk
        head = self._order[self._position :]
        self._order = torch.randperm(self.n, generator=self._generator)
        self._position = self.batch_size - len(head)
        return torch.cat([head, self._order[: self._position]])
