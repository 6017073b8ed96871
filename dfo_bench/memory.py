"""Peak memory of one run: the process's resident set and, on CUDA, what torch allocated.

A worker process runs many runs one after another, and the kernel's high-water mark of resident
memory (``VmHWM``, ``getrusage``'s ``ru_maxrss``) only ever rises: read as it is, every run would be
charged the peak of the worst run before it in the same worker. On Linux the mark can be reset to
the current resident set (writing ``5`` to ``/proc/self/clear_refs``, Linux >= 4.0), so
``MemoryMeter`` resets it at the run's start and reads it at the run's end:

- ``peak_rss``: bytes, the largest resident set of the process while the run ran. It includes
  what the process held before the run (the interpreter, torch, data an earlier run of the same
  worker left cached), so it is what a machine must have free to run it, not what it allocated.
- ``rss_increase``: bytes, that peak minus the resident set at the start: what the run itself
  added (its data, activations, optimizer state). Memory freed by an earlier run but kept by the
  allocator is reused without being counted, so this is a lower bound in a long-lived worker.
- ``peak_cuda``: bytes, ``torch.cuda.max_memory_allocated`` on the run's device, reset at its
  start (tensors only; the CUDA context and the caching allocator's slack are not in it); None off CUDA.

Where the mark cannot be reset (a read-only ``/proc``), a peak is known to be the run's only if
the run raised the process's mark; otherwise, and where ``/proc`` gives no resident set (not
Linux), both RSS figures are None: the report says "not recorded".
The run's start is after the machine-speed probe and before the problem is built, so loading
data, pre-training and compiling kernels count; the end is after the last checkpoint.

torch is imported only where CUDA is read: the store imports ``MemoryUse``, and the commands
that only read results (``status``) must not pay torch's import.
"""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass(frozen=True)
class MemoryUse:
    """What ``MemoryMeter.read`` found; bytes, None where not known (see the module docstring)."""

    peak_rss: int | None
    rss_increase: int | None
    peak_cuda: int | None


class MemoryMeter:
    """Started at a run's start (``MemoryMeter(device)``), read once at its end."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._reset = _reset_high_water_mark()
        self._start_rss = _rss()
        self._start_peak = _high_water_mark()
        if device.type == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats(device)

    def read(self) -> MemoryUse:
        """The run's peaks so far (normally called once, at its end)."""
        cuda = None
        if self.device.type == "cuda":
            import torch

            cuda = int(torch.cuda.max_memory_allocated(self.device))
        peak, start = _high_water_mark(), self._start_rss
        if peak is None or start is None or not (self._reset or peak > (self._start_peak or 0)):
            return MemoryUse(None, None, cuda)
        return MemoryUse(peak, max(peak - start, 0), cuda)


def _reset_high_water_mark() -> bool:
    """Reset the process's peak resident set to its current one; whether that was possible."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _rss() -> int | None:
    """Current resident set, bytes (Linux ``VmRSS``); None where ``/proc`` does not say."""
    return _status_kilobytes("VmRSS:")


def _high_water_mark() -> int | None:
    """Peak resident set since the process started or the last reset, bytes."""
    peak = _status_kilobytes("VmHWM:")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(maxrss) if sys.platform == "darwin" else int(maxrss) * 1024  # bytes on macOS, KiB elsewhere


def _status_kilobytes(field: str) -> int | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
