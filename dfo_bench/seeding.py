"""Seeds derived by hashing, so that every stream of randomness is named and reproducible.

The run's base seed alone fixes the data split and the initial weights (keys: problem);
the optimizer's generator depends on the seed and the problem's and optimizer's names, not on
hyper-parameters, so variants of one optimizer draw common random numbers (paired comparison).
No library code touches a global random state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dfo_bench.hashing import sha256

if TYPE_CHECKING:
    import torch


def derive_seed(seed: int, *keys: Any) -> int:
    """A 63-bit seed from a base seed and any JSON-serialisable keys (hashed with json's default
    separators: the streams every stored result was drawn from)."""
    return int.from_bytes(sha256([seed, *keys], compact=False)[:8], "little") >> 1


def torch_generator(seed: int, *keys: Any) -> torch.Generator:
    """A CPU torch generator for the stream named by ``keys`` (torch imported here: reading stored
    results, which derives seeds, never loads it)."""
    import torch

    return torch.Generator().manual_seed(derive_seed(seed, *keys))
