"""Search spaces: what an optimizer's coordinates mean in terms of the network's weights.

The runner builds a space from the run's initial weights and puts it between optimizer and
problem: the optimizer searches in the space's coordinates, the problem always evaluates full
weight vectors. ``full`` is the identity. ``blocks`` is histogram blocking (arXiv 2408.07194):
the range of the initial weights is cut into ``n_bins`` equal-width bins, empty bins are
dropped, and every weight of a bin is tied to one value, so a candidate is one value per
non-empty bin (ResNet-18: 11M weights → a few thousand coordinates). Any optimizer runs in
either space; HBDE is DE whose default space is ``blocks``.

A space lives on the device of the initial weights it is built from: mapping a population of
blocks to weights is one gather on that device, so on a GPU neither side visits the host.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch

from dfo_bench.moves import Population, dense
from dfo_bench.space_config import BlockSpaceConfig, FullSpaceConfig


class Space(ABC):
    """A map from ``dim`` search coordinates to the problem's weight vectors."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Number of search coordinates."""

    @abstractmethod
    def initial(self) -> torch.Tensor:
        """The search point that stands for the run's initial weights, shape (dim,)."""

    @abstractmethod
    def to_weights(self, Z: Population) -> Population:
        """Weights of a population of search points, (P, dim) → (P, weights)."""

    @abstractmethod
    def pullback(self, grad: torch.Tensor) -> torch.Tensor:
        """A gradient with respect to the weights, as a gradient with respect to the coordinates."""

    def point(self, z: torch.Tensor) -> torch.Tensor:
        """The weights of one search point."""
        return dense(self.to_weights(z.unsqueeze(0)))[0]


class FullSpace(Space):
    """Every weight is a coordinate (moves from one point pass through untouched)."""

    def __init__(self, x0: torch.Tensor) -> None:
        self.x0 = x0

    @property
    def dim(self) -> int:
        return self.x0.numel()

    def initial(self) -> torch.Tensor:
        return self.x0.clone()

    def to_weights(self, Z: Population) -> Population:
        return Z

    def pullback(self, grad: torch.Tensor) -> torch.Tensor:
        return grad


class BlockSpace(Space):
    """One coordinate per non-empty histogram bin of the initial weights, weights tied to it."""

    def __init__(self, x0: torch.Tensor, n_bins: int) -> None:
        w = x0.detach().cpu().double().numpy()  # once per run: the histogram is NumPy's rule
        edges = np.histogram_bin_edges(w, bins=n_bins)
        # Bin i holds [edges[i], edges[i+1]), the last bin also its right edge: numpy.histogram's rule.
        bins = np.clip(np.searchsorted(edges, w, side="right") - 1, 0, n_bins - 1)
        used, assign = np.unique(bins, return_inverse=True)
        self.bins = torch.from_numpy(used)
        """The histogram bin of each coordinate, ascending (on the CPU: a description, not used in the loop)."""
        self.assign = torch.from_numpy(assign.reshape(-1)).to(x0.device)
        """The coordinate each weight is tied to, shape (weights,), on the weights' device."""
        self.counts = torch.bincount(self.assign, minlength=len(used))
        self._initial = self.means(x0)

    @property
    def dim(self) -> int:
        return len(self.bins)

    def means(self, x: torch.Tensor) -> torch.Tensor:
        """Each block's mean of the weights x: the block coordinates that best stand for x."""
        sums = torch.zeros(self.dim, dtype=torch.float64, device=x.device).index_add_(0, self.assign, x.detach().double())
        return (sums / self.counts).float()

    def initial(self) -> torch.Tensor:
        return self._initial.clone()

    def to_weights(self, Z: Population) -> torch.Tensor:
        return dense(Z).index_select(1, self.assign)

    def pullback(self, grad: torch.Tensor) -> torch.Tensor:
        return torch.zeros(self.dim, dtype=grad.dtype, device=grad.device).index_add_(0, self.assign, grad)


def make_space(config: FullSpaceConfig | BlockSpaceConfig, x0: torch.Tensor) -> Space:
    """The space a run's optimizer searches, built from the run's initial weights."""
    if isinstance(config, BlockSpaceConfig):
        return BlockSpace(x0, config.n_bins)
    return FullSpace(x0)
