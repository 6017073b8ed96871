"""Timing helpers shared by the benchmark scripts: round-robin repeats and a GEMM rate probe."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Timings:
    """Wall-clock seconds of the timed repeats of one function."""

    seconds: list[float]

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.seconds)

    def as_dict(self) -> dict[str, float | list[float]]:
        return {"best": self.best, "median": self.median, "mean": self.mean, "all": self.seconds}


def time_call(fn: Callable[[], object]) -> float:
    """Seconds one call of fn takes (CPU work only: nothing asynchronous to wait for)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(fns: Mapping[str, Callable[[], object]], repeats: int, warmup: int) -> dict[str, Timings]:
    """Time every function ``repeats`` times, round-robin in mapping order, after ``warmup``
    untimed rounds: on a shared machine each function then sees the same mix of load."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    seconds: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            seconds[name].append(time_call(fn))
    return {name: Timings(s) for name, s in seconds.items()}


def gemm_probe(n: int) -> tuple[Callable[[], object], float]:
    """A square fp32 n×n matrix product to time, and its FLOPs (2n³): the machine's matmul rate."""
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=generator), torch.randn(n, n, generator=generator)
    out = torch.empty(n, n)
    return (lambda: torch.mm(a, b, out=out)), 2.0 * n**3
