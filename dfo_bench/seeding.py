"""Seeds derived by hashing, so that every stream of randomness is named and reproducible.

The run's base seed alone fixes the data split and the initial weights (keys: problem);
the optimizer's generator additionally depends on the optimizer (keys: problem, optimizer).
No library code touches a global random state.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import torch


def derive_seed(seed: int, *keys: Any) -> int:
    """A 63-bit seed from a base seed and any JSON-serialisable keys."""
    payload = json.dumps([seed, *keys], sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.sha256(payload).digest()[:8], "little") >> 1


def numpy_generator(seed: int, *keys: Any) -> np.random.Generator:
    """A NumPy generator for the stream named by ``keys``."""
    return np.random.default_rng(derive_seed(seed, *keys))


def torch_generator(seed: int, *keys: Any) -> torch.Generator:
    """A CPU torch generator for the stream named by ``keys``."""
    return torch.Generator().manual_seed(derive_seed(seed, *keys))
