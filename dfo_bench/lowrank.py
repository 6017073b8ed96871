"""Populations of low-rank perturbations (EGGROLL): members a network evaluates without building them.

Member p of a population perturbs every weight matrix W (rows × cols) of the centre by
sign_p·(σ/√r)·A_k B_kᵀ, with A_k (rows × r) and B_k (cols × r) standard normal factors of its
noise draw k, and every other coordinate (biases, BatchNorm scales) by sign_p·σ·ε_k, ordinary
Gaussian noise. A layer then computes x·Wᵀ once for the whole population and adds
(x·B_k)·A_kᵀ per member, never holding P copies of the weights (Sarkar et al. 2025, EGGROLL).
A problem that cannot exploit the structure evaluates ``dense()``; the charge is the same.

Which coordinates form matrices is the problem's ``WeightLayout``; antithetic pairs are two
members of one draw with opposite signs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch


@dataclass(frozen=True)
class Matrix:
    """A weight matrix stored row-major in the flat weight vector from ``start``."""

    start: int
    rows: int
    """Output features (a convolution's output channels)."""
    cols: int
    """Input features (a convolution's input channels × kernel height × kernel width)."""

    @property
    def stop(self) -> int:
        return self.start + self.rows * self.cols


@dataclass(frozen=True)
class WeightLayout:
    """Which slices of a flat weight vector of ``dim`` values are matrices; the rest are vectors."""

    dim: int
    matrices: tuple[Matrix, ...]

    def __post_init__(self) -> None:
        last = 0
        for m in sorted(self.matrices, key=lambda m: m.start):
            if m.start < last or m.stop > self.dim or m.rows < 1 or m.cols < 1:
                raise ValueError(f"matrices of a layout must lie apart inside its {self.dim} values, got {m}")
            last = m.stop

    @property
    def max_rank(self) -> int:
        """The largest rank every matrix can take: the smallest side of the smallest matrix."""
        return min((min(m.rows, m.cols) for m in self.matrices), default=0)

    def check_rank(self, rank: int) -> None:
        """Raise unless every matrix can take perturbations of this rank."""
        if self.matrices and rank > self.max_rank:
            raise ValueError(f"rank {rank} exceeds the smallest side of a weight matrix; allowed: 1 to {self.max_rank}")

    @cached_property
    def vector_index(self) -> torch.Tensor:
        """The coordinates in no matrix, ascending, int64 on the CPU."""
        inside = torch.zeros(self.dim, dtype=torch.bool)
        for m in self.matrices:
            inside[m.start : m.stop] = True
        return torch.nonzero(~inside).flatten()

    def vector_index_on(self, device: torch.device) -> torch.Tensor:
        """``vector_index`` on ``device``, copied there once per layout and device."""
        cache: dict[torch.device, torch.Tensor] = self.__dict__.setdefault("_vector_index_on", {})
        if device not in cache:
            cache[device] = self.vector_index.to(device)
        return cache[device]


@dataclass(frozen=True)
class LowRankPopulation:
    """P members around ``centre``: member p uses noise draw ``draw[p]`` with sign ``sign[p]``."""

    centre: torch.Tensor
    """(D,) float32."""
    layout: WeightLayout
    A: tuple[torch.Tensor, ...]
    """Per matrix of the layout, (K, rows, r) standard normal factors of the K draws."""
    B: tuple[torch.Tensor, ...]
    """Per matrix, (K, cols, r)."""
    vector: torch.Tensor
    """(K, V) standard normal noise of the V coordinates outside the matrices."""
    sigma: float
    draw: torch.Tensor
    """(P,) int64, each member's draw."""
    sign: torch.Tensor
    """(P,) float32, +1 or -1."""

    @classmethod
    def sample(
        cls,
        centre: torch.Tensor,
        layout: WeightLayout,
        rank: int,
        sigma: float,
        draws: int,
        antithetic: bool,
        generator: torch.Generator,
        pairing: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> LowRankPopulation:
        """``draws`` fresh draws on centre's device (``generator`` is there too): 2·draws members
        (+ then −) when ``antithetic``, else one member per draw (``pairing``: that draw/sign pair
        from ``pairing``, kept by an optimizer that asks the same shape every generation)."""
        device = centre.device
        A = tuple(torch.randn(draws, m.rows, rank, generator=generator, device=device) for m in layout.matrices)
        B = tuple(torch.randn(draws, m.cols, rank, generator=generator, device=device) for m in layout.matrices)
        vector = torch.randn(draws, len(layout.vector_index), generator=generator, device=device)
        if pairing is None:
            pairing = cls.pairing(draws, antithetic, device)
        return cls.members_of(centre, layout, A, B, vector, sigma, pairing)

    @classmethod
    def members_of(
        cls,
        centre: torch.Tensor,
        layout: WeightLayout,
        A: tuple[torch.Tensor, ...],
        B: tuple[torch.Tensor, ...],
        vector: torch.Tensor,
        sigma: float,
        pairing: tuple[torch.Tensor, torch.Tensor],
    ) -> LowRankPopulation:
        """The population of these draws around ``centre``, each member's draw and sign from
        ``pairing`` (the authors reuse draws across generations)."""
        return cls(centre, layout, A, B, vector, sigma, *pairing)

    @staticmethod
    def pairing(draws: int, antithetic: bool, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's draw and sign: (0..K−1, 0..K−1) and (+1…, −1…) for antithetic pairs, else
        (0..K−1) and +1. Never written to, so an optimizer makes them once for all its generations:
        five small torch calls fewer per ask, about a tenth of ask + tell at P = 64 (docs/lowrank.md)."""
        draw = torch.arange(draws, device=device)
        sign = torch.ones(draws, device=device)
        if antithetic:
            draw, sign = draw.repeat(2), torch.cat([sign, -sign])
        return draw, sign

    @property
    def rank(self) -> int:
        return self.A[0].shape[2] if self.A else 1

    @property
    def scale(self) -> float:
        """σ/√r: the factor of A_k B_kᵀ, so that every entry of a perturbation has variance σ²."""
        return self.sigma / math.sqrt(self.rank)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.draw.shape[0], self.centre.shape[0])

    def __len__(self) -> int:
        return self.draw.shape[0]

    def __getitem__(self, rows: slice) -> LowRankPopulation:
        return LowRankPopulation(
            self.centre, self.layout, self.A, self.B, self.vector, self.sigma, self.draw[rows], self.sign[rows]
        )

    def factors(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Per member, the factors of matrix i: (P, rows, r) scaled by sign·σ/√r, and (P, cols, r)."""
        return self.scaled_a(i), self.B[i][self.draw]

    def scaled_a(self, i: int) -> torch.Tensor:
        """Per member, the factor A of matrix i scaled by sign·σ/√r, (P, rows, r), without
        gathering its B (a path that projects once per draw needs only the draws' B)."""
        return self.A[i][self.draw] * (self.sign * self.scale).view(-1, 1, 1)

    def vectors(self, start: int, stop: int) -> torch.Tensor:
        """Per member, the perturbation (P, stop − start) of coordinates start..stop, all outside the matrices."""
        first = int(torch.searchsorted(self.layout.vector_index, start))
        return self.vector[self.draw, first : first + stop - start] * (self.sign * self.sigma).unsqueeze(1)

    def dense(self) -> torch.Tensor:
        """The members as a (P, D) matrix (for problems without a low-rank path)."""
        X = self.centre.expand(len(self), -1).clone()
        for i, m in enumerate(self.layout.matrices):
            A, B = self.factors(i)
            X[:, m.start : m.stop] += torch.bmm(A, B.transpose(1, 2)).flatten(1)
        index = self.layout.vector_index_on(X.device)
        X[:, index] += self.vector[self.draw] * (self.sign * self.sigma).unsqueeze(1)
        return X

    def combine(self, weights: torch.Tensor) -> torch.Tensor:
        """Σ_p weights[p]·E_p, (D,): the weighted sum of the members' perturbations E_p (each of rank
        r on every matrix; the sum is high-rank), built draw by draw without forming any E_p."""
        per_draw = torch.zeros(self.vector.shape[0], device=self.centre.device).index_add_(
            0, self.draw, weights.to(self.centre.device, torch.float32) * self.sign
        )
        # Every coordinate is written below (the matrices, then the rest), each product straight
        # into its slice: fewer small torch calls, which cost more than their arithmetic here.
        total = torch.empty_like(self.centre)
        scaled = (per_draw * self.scale).view(-1, 1, 1)
        for m, A, B in zip(self.layout.matrices, self.A, self.B, strict=True):
            weighted = (A * scaled).permute(1, 0, 2).reshape(m.rows, -1)
            out = total[m.start : m.stop].view(m.rows, m.cols)
            torch.mm(weighted, B.permute(1, 0, 2).reshape(m.cols, -1).t(), out=out)
        total.index_copy_(0, self.layout.vector_index_on(total.device), (per_draw * self.sigma) @ self.vector)
        return total
