"""Caches of one base point's activations, so that one-coordinate moves (``CoordinateMoves``, what
direct search asks) cost a fraction of a forward pass, and the choice between them.

``MovesCache`` moves the last hidden layer's and the output layer's weights of any MLP (a
compiled kernel or an exact torch path); ``DeepMovesCache`` moves every weight of an MLP of two
or more hidden layers through ``mlp_deep_moves_kernel``, where a compiler is available.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import torch

from dfo_bench.moves import CoordinateMoves
from dfo_bench.problems import mlp_deep_moves_kernel, mlp_moves_kernel

if TYPE_CHECKING:
    from dfo_bench.problems.mlp import PopulationMLP


def moves_cache(net: PopulationMLP, xt: torch.Tensor, y: torch.Tensor, refresh_every: int) -> IncrementalCache:
    """``DeepMovesCache`` for two or more hidden layers on the CPU where its kernel builds (every
    coordinate incremental); otherwise ``MovesCache`` (so a one-hidden-layer net's results are
    those of before the deep cache existed)."""
    if len(net.sizes) > 3 and xt.device.type == "cpu":
        kernel = mlp_deep_moves_kernel.load()
        if kernel is not None:
            return DeepMovesCache(net, xt, y, refresh_every, kernel)
    return MovesCache(net, xt, y, refresh_every)


class IncrementalCache(ABC):
    """A base point's activations on the training set ``xt`` (features, n), kept up to date by
    incremental updates for accepted moves and a full recompute every ``refresh_every`` of them."""

    hidden_start: int
    """Flat index of the first coordinate the cache can move; below it the dense path is taken."""

    def __init__(self, xt: torch.Tensor, y: torch.Tensor, refresh_every: int) -> None:
        self.xt, self.y, self.refresh_every = xt, y, refresh_every
        self.n = xt.shape[1]
        self.base: torch.Tensor | None = None
        self._source: torch.Tensor
        self._source_version: int
        """The tensor last synced and its version counter then (set with ``base``)."""
        self.updates = 0
        """Incremental updates since the last full recompute."""
        self.recomputes = 0
        self.L: torch.Tensor
        """Logits (n, classes), float64."""

    @abstractmethod
    def all_fast(self, index: torch.Tensor) -> bool:
        """Whether the cache can move all these coordinates."""

    @abstractmethod
    def evaluate(self, moves: CoordinateMoves) -> torch.Tensor:
        """Mean cross-entropy of each move from ``moves.base``, computed in float64 and returned as
        float32 (the dense path's dtype); all moves must be fast."""

    @abstractmethod
    def _move(self, i: int, delta: float) -> None:
        """Apply the change of coordinate i by delta to the cache, in place."""

    @abstractmethod
    def _recompute(self, base: torch.Tensor) -> None:
        """Rebuild every activation from ``base``; sets ``base``, ``updates`` and ``recomputes``."""

    def sync(self, base: torch.Tensor) -> None:
        """Make the cache hold ``base``: nothing to do for the same tensor unmodified (torch's
        version counter tells), a few incremental updates after an accepted move, else a full recompute."""
        if self.base is not None and base is self._source and base._version == self._source_version:
            return
        new, old = _host(base), None if self.base is None else _host(self.base)
        changed = None if old is None else np.flatnonzero(new != old)  # ascending
        if (
            changed is None
            or len(changed) > 8
            or self.updates + len(changed) > self.refresh_every
            or (len(changed) and changed[0] < self.hidden_start)
        ):
            self._recompute(base)
        else:
            assert self.base is not None and old is not None  # changed is None without a base
            for i in changed.tolist():
                self._move(i, float(new[i]) - float(old[i]))
            self.updates += len(changed)
            if self.base.is_cpu:  # the few changed values through the view: copying all D costs more
                old[changed] = new[changed]
            else:
                self.base.copy_(base)
        self._source, self._source_version = base, base._version

    def _derive(self) -> None:
        """Per-sample log-softmax and cross-entropy, and the mean loss, from the logits."""
        lse = torch.logsumexp(self.L, dim=1)
        target = self.L.gather(1, self.y.unsqueeze(1)).squeeze(1)
        self._ce = lse - target
        self._logp = (self.L - lse.unsqueeze(1)).float()
        self.loss = float(self._ce.mean())
        """Mean cross-entropy at the base."""


class MovesCache(IncrementalCache):
    """The activations of one base point, so that one-coordinate moves cost O(samples × classes).

    Holds, in float64, the activations A (features, n) feeding the last hidden layer (the inputs
    for a one-hidden-layer net, plus a row of ones for its biases), that layer's pre-activations
    z (h, n) and outputs R = relu(z) (plus a row of ones for the output biases), and the logits
    L (n, classes). A move of a last-hidden-layer coordinate changes one row of z, hence the
    logits by outer(relu(z_new) − relu(z_old), W_out[:, j]); an output-layer move changes one
    column of L. float64 keeps incremental updates exact to far below the 1e-5 the losses must
    match; a full recompute every ``refresh_every`` incremental updates bounds the drift anyway.

    On the CPU the compiled kernel of ``mlp_moves_kernel`` evaluates and applies moves, touching
    only the samples whose logits change; ``kernel = None`` (or a failed build) selects the
    torch path, exact too but passing over every sample.
    """

    def __init__(self, net: PopulationMLP, xt: torch.Tensor, y: torch.Tensor, refresh_every: int) -> None:
        super().__init__(xt, y, refresh_every)
        self.net = net
        self.classes, self.hidden = net.sizes[-1], net.sizes[-2]
        sizes = [out * inp + out for out, inp in net.shapes]
        self.output_start = sum(sizes[:-1])
        """Flat index of the output layer's first weight."""
        self.hidden_start = self.output_start - sizes[-2] if len(sizes) > 1 else self.output_start
        """Flat index of the last hidden layer's first weight; below it the dense path is taken."""
        self.fan_in = net.sizes[-3] if len(sizes) > 1 else 0
        self.kernel = mlp_moves_kernel.load() if xt.device.type == "cpu" else None
        self._inputs: torch.Tensor | None = None
        """The float64 inputs, kept when they feed the last hidden layer (``_fan_in``)."""
        self.A: torch.Tensor
        self._csc: tuple[torch.Tensor, torch.Tensor, torch.Tensor]

    def all_fast(self, index: torch.Tensor) -> bool:
        """Whether the cache can move all these coordinates (those of the last hidden and output layers)."""
        return min(index.tolist()) >= self.hidden_start

    def evaluate(self, moves: CoordinateMoves) -> torch.Tensor:
        """Mean cross-entropy of each move from ``moves.base`` (float64, returned as float32); all
        moves must be ``fast``.

        Per move this runs in tens of microseconds, where each extra torch operation costs several:
        the kernel takes the moves as they come and returns the losses (the move's change, the
        base's loss added, the float32 rounding) in one call."""
        self.sync(moves.base)
        index = moves.index
        if self.kernel is not None:
            return self.kernel.move_losses(
                index, moves.value, moves.base, self.loss, *self._kernel_state[:5], self._logp, self.y, self.W_out, *self._starts
            )
        delta = (moves.value - moves.base[index]).double()
        s, w = self._shift(index, delta)
        logits = self.L.unsqueeze(0) + s.unsqueeze(2) * w.unsqueeze(1)  # (P, n, C)
        target = w[:, self.y] * s + self.L.gather(1, self.y.unsqueeze(1)).squeeze(1)
        return (torch.logsumexp(logits, dim=2) - target).mean(dim=1).float()

    def _shift(self, index: torch.Tensor, delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per move p, the logits move by s[p] (n,) times w[p] (C,)."""
        C, h, a = self.classes, self.hidden, self.fan_in
        out = (index >= self.output_start).unsqueeze(1)
        rel = (index - self.output_start).clamp(min=0)
        c = torch.where(rel < C * h, rel // h, rel - C * h).clamp(max=C - 1)
        j_out = torch.where(rel < C * h, rel % h, h).clamp(max=h)
        w_out = torch.nn.functional.one_hot(c, C).double() * delta.unsqueeze(1)
        if a == 0:  # no hidden layer: every fast move is an output move
            return self.R[j_out], w_out
        rel = (index - self.hidden_start).clamp(min=0, max=h * a + h - 1)
        j = torch.where(rel < h * a, rel // a, rel - h * a)
        col = torch.where(rel < h * a, rel % a, a)
        s_hidden = (self.z[j] + delta.unsqueeze(1) * self.A[col]).clamp_(min=0) - self.R[j]
        return torch.where(out, self.R[j_out], s_hidden), torch.where(out, w_out, self.W_out[:, j].t())

    def _move(self, i: int, delta: float) -> None:
        """Apply the change of coordinate i by delta to the cache, in place."""
        if self.kernel is not None:
            self.loss = self.kernel.apply_move(i, delta, *self._kernel_state, self.y, self.W_out, *self._starts)
            return
        h, a, C = self.hidden, self.fan_in, self.classes
        if i >= self.output_start:
            c, j = divmod(i - self.output_start, h) if i < self.output_start + C * h else (i - self.output_start - C * h, h)
            self.L[:, c] += delta * self.R[j]
            if j < h:
                self.W_out[c, j] += delta
        else:
            j, col = divmod(i - self.hidden_start, a) if i < self.hidden_start + h * a else (i - self.hidden_start - h * a, a)
            self.z[j] += delta * self.A[col]
            new = self.z[j].clamp(min=0)
            self.L.addr_(new - self.R[j], self.W_out[:, j])
            self.R[j] = new
        self._derive()

    def _recompute(self, base: torch.Tensor) -> None:
        layers = self.net.unflatten(base.double().unsqueeze(0))
        ones = torch.ones(1, self.n, dtype=torch.float64, device=base.device)
        act = self._fan_in(layers, ones)
        if len(layers) > 1:
            W, b = layers[-2]
            self.z = torch.addmm(b[0], W[0], act)
            act = self.z.clamp(min=0)
        else:  # no hidden layer to move: placeholders of the kernel's shapes
            self.z = act
        self.R = torch.cat([act, ones])
        W, b = layers[-1]
        self.W_out = W[0].clone()
        self.L = torch.addmm(b[0].t(), act.t(), self.W_out.t())
        self.base, self.updates = base.clone(), 0
        self.recomputes += 1
        self._derive()
        if self.kernel is not None:
            self._kernel_state = (self.z, self.R, *self._csc, self.L, self._logp, self._ce)
            self._starts = (self.hidden_start, self.output_start)

    def _fan_in(self, layers: list[tuple[torch.Tensor, torch.Tensor]], ones: torch.Tensor) -> torch.Tensor:
        """The activations feeding the last hidden layer, (features, n) float64; sets ``A`` (them and
        a row of ones) and, for the kernel, its nonzeros by feature (``_csc``). With one hidden
        layer they are the inputs, the same at every recompute: built once and kept (two thirds of
        a recompute's time on MNIST otherwise: the float64 copy, the concatenation, the nonzeros).
        Without a hidden layer they are the logits' inputs, which ``z`` holds: rebuilt each time."""
        if len(layers) == 2 and self._inputs is not None:
            return self._inputs
        act = self.xt.double()
        for W, b in layers[:-2]:
            act = torch.addmm(b[0], W[0], act).clamp_(min=0)
        self.A = torch.cat([act, ones]) if len(layers) > 1 else ones
        if self.kernel is not None:
            self._csc = by_feature(self.A)
        if len(layers) == 2:
            self._inputs = act
        return act


class DeepMovesCache(IncrementalCache):
    """Every coordinate of an MLP of two or more hidden layers, moved by ``mlp_deep_moves_kernel``.

    Holds, in float64, each hidden layer's pre-activations Z (n, width), sample-major; the
    weights of every layer after the first, transposed (in, out); the logits L (n, classes); and,
    built once, the inputs' nonzeros by feature (with a feature of ones for the first layer's
    biases). A move changes one unit's pre-activation on the samples whose input to it is
    nonzero; the kernel pushes each change through the later layers sample by sample. Exact to
    float64 rounding, like ``MovesCache``, with the same periodic full recompute.
    """

    def __init__(self, net: PopulationMLP, xt: torch.Tensor, y: torch.Tensor, refresh_every: int, kernel: ModuleType) -> None:
        super().__init__(xt, y, refresh_every)
        self.net, self.kernel = net, kernel
        self.hidden_start = 0
        self.starts = [0, *itertools.accumulate(out * inp + out for out, inp in net.shapes)]
        """Flat index of each layer's first weight, then the dimension."""
        self._inputs = xt.t().double().contiguous()
        """(n, features) float64: the first layer's inputs, the same at every recompute."""
        self._csc = by_feature(torch.cat([xt.double(), torch.ones(1, self.n, dtype=torch.float64)]))
        self.Z: list[torch.Tensor] = []
        self.W: list[torch.Tensor] = []
        self.WT: list[torch.Tensor] = []

    def all_fast(self, index: torch.Tensor) -> bool:
        """Always: every layer's coordinates move incrementally."""
        return True

    def evaluate(self, moves: CoordinateMoves) -> torch.Tensor:
        """Mean cross-entropy of each move from ``moves.base`` (float64, returned as float32): the
        base's loss plus the kernel's change over the samples the move reaches."""
        self.sync(moves.base)
        state = (self.Z, self.W, self.WT, self.starts, *self._csc)
        return self.kernel.move_losses(moves.index, moves.value, moves.base, self.loss, *state, self._logp, self.y)

    def _move(self, i: int, delta: float) -> None:
        """An accepted move written into the cache by the kernel, which returns the new mean loss."""
        state = (self.Z, self.W, self.WT, self.starts, *self._csc)
        self.loss = self.kernel.apply_move(i, delta, *state, self.L, self._logp, self._ce, self.y)

    def _recompute(self, base: torch.Tensor) -> None:
        """Every layer's pre-activations and the logits from ``base`` in float64 (a GEMM a layer)."""
        layers = self.net.unflatten(base.double().unsqueeze(0))
        act, self.Z = self._inputs, []
        for W, b in layers[:-1]:
            self.Z.append(torch.addmm(b[0].t(), act, W[0].t()))
            act = self.Z[-1].clamp(min=0)
        W, b = layers[-1]
        self.L = torch.addmm(b[0].t(), act, W[0].t())
        # Copies the kernel writes accepted moves into: W of the layers after the second (dense
        # products), WT of the hidden layers after the first (one row a move); empty where unread.
        empty = torch.empty(0, dtype=torch.float64)
        weights = [W[0] for W, _ in layers]
        self.W = [empty, empty, *(W.clone() for W in weights[2:])]
        self.WT = [empty, *(W.t().contiguous() for W in weights[1:-1]), empty]
        self.base, self.updates = base.clone(), 0
        self.recomputes += 1
        self._derive()


def by_feature(A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The nonzeros of A (features, n) by feature, as the kernels read them: offsets (features + 1),
    then each nonzero's sample and value, feature after feature."""
    nonzero = A.nonzero()  # row-major: by feature, then by sample
    counts = torch.bincount(nonzero[:, 0], minlength=A.shape[0])
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)]), nonzero[:, 1].contiguous(), A[nonzero[:, 0], nonzero[:, 1]]


def _host(t: torch.Tensor) -> np.ndarray:
    """A NumPy view of a CPU tensor (a copy of any other): far cheaper per call than torch ops."""
    return t.numpy() if t.device.type == "cpu" else t.cpu().numpy()
