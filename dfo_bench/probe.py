"""A machine-speed probe taken at the start of every run, outside its clock.

Wall seconds measure the method only on one machine under one load: a suite resumed on another
day, host or load records seconds that are not comparable. Each run therefore stores two rates
measured just before it starts, with its own thread count, on its own device: a float32 GEMM
rate (compute-bound work: population forward passes) and a copy bandwidth (memory-bound work:
one-coordinate moves, histograms). The report compares them across the runs of one problem and
rescales seconds by them. The probe draws no random numbers and evaluates nothing, so a run's
results do not depend on it; it takes about 0.3 s on a CPU. torch is imported where the probe
runs, not with ``Speed``, which the store reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

GEMM_SIZE = {"cpu": 512, "cuda": 4096}
"""Side of the square float32 matrices multiplied: 0.27 GFLOP per product on the CPU (a few
milliseconds), 137 GFLOP on a GPU (enough to leave the launch overhead behind)."""
COPY_ELEMENTS = 1 << 24
"""float32 values copied per trial: 64 MiB read and 64 MiB written, beyond any cache."""
TRIAL_SECONDS = 0.1
"""Time given to each of the two measurements; the best of its trials is kept."""
MAX_TRIALS = 20


@dataclass(frozen=True)
class Speed:
    """What the probe measured."""

    gflops: float
    """float32 matrix-product rate, GFLOP/s (2·n³ operations per n×n product)."""
    gbps: float
    """Copy bandwidth, GB/s (bytes read plus bytes written, 10⁹ bytes)."""


Probe = Callable[["torch.device"], Speed]
"""How the runner measures the machine; tests inject their own speeds."""


def measure_speed(device: torch.device) -> Speed:
    """The GEMM rate and copy bandwidth of ``device`` with torch's current thread count (the run's)."""
    import torch

    n = GEMM_SIZE.get(device.type, GEMM_SIZE["cpu"])
    a = torch.ones(n, n, device=device)
    b = torch.full((n, n), 0.5, device=device)
    gemm = _best_seconds(lambda: torch.mm(a, b), device)
    src = torch.ones(COPY_ELEMENTS, device=device)
    dst = torch.empty_like(src)
    copy = _best_seconds(lambda: dst.copy_(src), device)
    return Speed(gflops=2 * n**3 / gemm / 1e9, gbps=2 * src.element_size() * COPY_ELEMENTS / copy / 1e9)


def _best_seconds(work: Callable[[], object], device: torch.device) -> float:
    """The shortest of repeated timings of ``work`` after one untimed warm-up (first-touch page
    faults, thread-pool start): the machine's speed, not its one-time costs."""
    work()
    _synchronize(device)
    best, spent, trials = float("inf"), 0.0, 0
    while spent < TRIAL_SECONDS and trials < MAX_TRIALS:
        start = time.perf_counter()
        work()
        _synchronize(device)
        elapsed = time.perf_counter() - start
        best, spent, trials = min(best, elapsed), spent + elapsed, trials + 1
    return max(best, 1e-9)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)
