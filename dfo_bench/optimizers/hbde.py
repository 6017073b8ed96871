"""HBDE: histogram-based blocking differential evolution (arXiv 2408.07194).

HBDE is our DE with two protocol choices, declared here as data, that make it work on networks
of millions of weights: it searches the ``blocks`` space (weights tied to the mean of their
histogram bin, a few thousand coordinates instead of 11M), and each generation is scored on a
circular super-batch (every member on the same chunk of the training set, chunks in turn from a
seeded shuffle, so every sample is used once per cycle). The runner's objective applies both;
``de`` with ``space: {kind: blocks}`` and ``super_batch: 1000`` in a suite is the same algorithm.

Its first generation is by default the start and Gaussian perturbations of it (``init_sigma``);
``init: neighbours`` is the start the authors' code is described to use: every block drawn
uniformly between the means of the blocks either side of it (the blocks are histogram bins in
order of weight value), the start itself (the block means) kept as one member.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from dfo_bench.optimizers.de import DEParams, DifferentialEvolution
from dfo_bench.space_config import BlockSpaceConfig, SpaceConfig


class HBDEParams(DEParams):
    init_sigma: float = Field(0.01, gt=0)
    """Spread of the first generation around the block means."""


class HBDE(DifferentialEvolution):
    name = "hbde"
    description = "Histogram-blocked DE on circular super-batches (DE in the blocks space)"
    Params = HBDEParams
    params: HBDEParams
    default_space: ClassVar[SpaceConfig] = BlockSpaceConfig(kind="blocks", n_bins=10_000)
    default_super_batch: ClassVar[int | None] = 1000
