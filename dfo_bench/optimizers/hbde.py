"""HBDE: histogram-based blocking differential evolution (arXiv 2408.07194).

HBDE is our DE with two protocol choices that make it work on networks of millions of weights:
it searches the ``blocks`` space (weights tied to the mean of their histogram bin, a few
thousand coordinates instead of 11M), and it scores each generation on a circular super-batch
(every member on the same chunk of the training set, chunks in turn from a seeded shuffle, so
every sample is used once per cycle). Both are run settings, so ``de`` with ``space: {kind:
blocks}`` and a super-batch problem is the same algorithm; ``hbde`` is the named default.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from dfo_bench.optimizers.de import DEParams, DifferentialEvolution


class HBDEParams(DEParams):
    init_sigma: float = Field(0.01, gt=0)
    """Spread of the first generation around the block means."""
    super_batch: int | None = Field(1000, ge=1)
    """Training samples each generation is scored on; None: the problem's own evaluation batch."""


class HBDE(DifferentialEvolution):
    name = "hbde"
    description = "Histogram-blocked DE on circular super-batches (DE in the blocks space)"
    Params = HBDEParams
    params: HBDEParams
    default_space: ClassVar[dict[str, Any]] = {"kind": "blocks", "n_bins": 10_000}

    @property
    def evaluation_batch(self) -> int | None:
        return self.params.super_batch
