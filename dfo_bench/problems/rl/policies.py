"""Policies of a whole population, evaluated as one batched forward per environment step.

A candidate is a flat weight vector. ``linear`` is ARS's policy, a = M·s with M of shape
(actions, observations) row-major and no bias, started at zero as in the paper. ``mlp`` is
``nn.Sequential(Linear, Tanh, ..., Linear)`` in ``parameters_to_vector`` order (each layer's weight
(out, in) row-major, then its bias; PyTorch's default initialisation), the layout
``dfo_bench.problems.mlp.PopulationMLP`` uses, so the PPO baseline's actor maps onto it.
``cnn`` reads a grid of observations (height, width, channels; MinAtar's 10×10×C) as MinAtar's
own network does (Young & Tian 2019): one 3×3 convolution of 16 filters, stride 1, no padding,
ReLU, then ReLU hidden layers of widths ``hidden`` (theirs: 128) and a linear output; in
``parameters_to_vector`` order of ``nn.Sequential(Conv2d, ReLU, Flatten, Linear, ReLU, ...,
Linear)``, PyTorch's default initialisation. A population's convolutions are one grouped
convolution (a group per member).
Outputs become actions deterministically: the argmax for a discrete space, the outputs clipped to
the box for a continuous one (a Gaussian policy's mean, as PPO is measured).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dfo_bench.lowrank import Matrix, WeightLayout
from dfo_bench.problems.mlp import PopulationMLP
from dfo_bench.problems.rl import policy_kernel

Layers = list[tuple[torch.Tensor, torch.Tensor | None]]
"""Per layer, transposed weights (N, in, out), contiguous, and biases (N, 1, out) or None: a row of
observations times a matrix is the fast way round for batched matrix-vector products (measured on
one core: 60 µs against 460 µs for 64 policies of 64×64). A ``cnn`` policy's first entry is its
convolution instead: weights (N, filters, channels, k, k) and biases (N, filters)."""
NONE = torch.empty(0)
"""The kernel's "none": no bias, no normalisation, no bounds."""
FILTERS = 16
"""Convolution filters of a ``cnn`` policy (MinAtar's network)."""
KERNEL = 3


@dataclass(frozen=True)
class ActionSpace:
    """What a policy's outputs must become: ``n`` discrete actions, or a box of ``n`` dimensions."""

    n: int
    discrete: bool
    low: np.ndarray | None = None
    high: np.ndarray | None = None


class PopulationPolicy:
    """Layer sizes, initialisation and the batched forward pass of N policies given as rows of (N, D)."""

    def __init__(
        self, kind: str, observations: int, action: ActionSpace, hidden: list[int], grid: tuple[int, ...] | None = None
    ) -> None:
        self.action, self.observations = action, observations
        self.shape = (action.n, observations)
        self.conv: Matrix | None = None
        """A ``cnn`` policy's convolution weights as a matrix (filters, channels·k·k); its biases follow."""
        self.grid: tuple[int, int, int] | None = None
        """A ``cnn`` policy's observation grid (height, width, channels)."""
        features = observations
        if kind == "cnn":
            if grid is None or len(grid) != 3 or min(grid[:2]) < KERNEL:
                raise ValueError(
                    f"policy: cnn reads a grid of observations (height, width, channels), at least {KERNEL}x{KERNEL}; "
                    f"this environment observes shape {grid}: use policy: mlp or linear"
                )
            height, width, channels = grid
            self.grid = (height, width, channels)
            self.conv = Matrix(0, FILTERS, channels * KERNEL * KERNEL)
            features = FILTERS * (height - KERNEL + 1) * (width - KERNEL + 1)
        self.head_start = 0 if self.conv is None else self.conv.stop + FILTERS
        """Where the fully connected layers start in the weight vector."""
        self.mlp = PopulationMLP([features, *hidden, action.n]) if kind != "linear" else None
        self.dim = self.head_start + (self.mlp.dim if self.mlp is not None else action.n * observations)

    def initial_point(self, generator: torch.Generator) -> torch.Tensor:
        """ARS's zero matrix for ``linear``; ``nn.Linear``'s (and ``nn.Conv2d``'s) default otherwise."""
        if self.mlp is None:
            return torch.zeros(self.dim)
        parts = []
        if self.conv is not None:
            bound = 1.0 / math.sqrt(self.conv.cols)
            parts.append((torch.rand(self.head_start, generator=generator) * 2 - 1) * bound)
        return torch.cat([*parts, self.mlp.initial_point(generator)])

    def layout(self) -> WeightLayout:
        """The weight matrices low-rank optimizers perturb: ``linear``'s M, or each layer's weight
        (a convolution's as (filters, channels·k·k))."""
        if self.mlp is None:
            return WeightLayout(self.dim, (Matrix(0, *self.shape),))
        head = tuple(Matrix(m.start + self.head_start, m.rows, m.cols) for m in self.mlp.layout().matrices)
        return WeightLayout(self.dim, head if self.conv is None else (self.conv, *head))

    def layers(self, X: torch.Tensor) -> Layers:
        """The N policies of X (N, D), laid out for ``outputs``."""
        if self.mlp is None:
            return [(X.reshape(X.shape[0], *self.shape).transpose(1, 2).contiguous(), None)]
        fully_connected = self.mlp.unflatten(X[:, self.head_start :])
        head: Layers = [(W.transpose(1, 2).contiguous(), b.transpose(1, 2).contiguous()) for W, b in fully_connected]
        if self.conv is None:
            return head
        assert self.grid is not None
        N, channels = X.shape[0], self.grid[2]
        weights = X[:, : self.conv.stop].reshape(N, FILTERS, channels, KERNEL, KERNEL)
        return [(weights, X[:, self.conv.stop : self.head_start]), *head]

    @staticmethod
    def select(layers: Layers, rows: torch.Tensor) -> Layers:
        """The layers of the policies ``rows`` only."""
        return [(W[rows], None if b is None else b[rows]) for W, b in layers]

    def outputs(self, layers: Layers, obs: torch.Tensor) -> torch.Tensor:
        """(N, actions) outputs of the N policies on their observations (N, observations)."""
        activation: Callable[[torch.Tensor], torch.Tensor] = torch.tanh
        if self.conv is not None:
            (weights, biases), layers = layers[0], layers[1:]
            assert biases is not None and self.grid is not None
            N, (height, width, channels) = obs.shape[0], self.grid
            grid = obs.reshape(N, height, width, channels).permute(0, 3, 1, 2).reshape(1, N * channels, height, width)
            maps = F.conv2d(grid, weights.reshape(N * FILTERS, channels, KERNEL, KERNEL), biases.reshape(-1), groups=N)
            obs, activation = torch.relu(maps).reshape(N, -1), torch.relu
        h = obs.unsqueeze(1)
        for i, (W, b) in enumerate(layers):
            h = torch.bmm(h, W) if b is None else torch.baddbmm(b, h, W)
            if i < len(layers) - 1:
                h = activation(h)
        return h.squeeze(1)

    def kernel(self, device: torch.device) -> ModuleType | None:
        """The compiled policy kernel where it serves (the CPU, linear and MLP policies) and builds;
        None: the torch path. Building it the first time on a machine takes 20–60 s."""
        return policy_kernel.load() if device.type == "cpu" and self.conv is None else None

    def bind(
        self, layers: Layers, obs: np.ndarray, held: np.ndarray, stats: tuple[torch.Tensor, torch.Tensor] | None
    ) -> Callable[[], np.ndarray]:
        """The actions of the policies ``layers`` on rows ``held`` (int64) of the observations
        ``obs`` (N, observations) float32, normalised as (obs − mean) / std by ``stats`` where given,
        as a function that reads ``obs`` each time it is called (a rollout calls it every step and
        binds anew when its rows change). On the CPU the compiled kernel (``kernel``), else
        ``outputs`` on the weights' device, then ``actions``."""
        W = layers[0][0]
        kernel = self.kernel(W.device)
        if kernel is None:

            def through_torch() -> np.ndarray:
                host = torch.from_numpy(obs[held]).to(W.device)
                return self.actions(self.outputs(layers, host if stats is None else (host - stats[0]) / stats[1]))

            return through_torch
        low, high, discrete = self.action.low, self.action.high, self.action.discrete
        box = None if discrete or low is None or high is None else (low, high)
        run = self.compiled(kernel, layers, obs, held, stats, discrete, box)
        actions = run.actions.numpy()

        def forward() -> np.ndarray:
            run()
            return actions.copy()  # the kernel writes the same array at its next run

        return forward

    @staticmethod
    def compiled(
        kernel: ModuleType,
        layers: Layers,
        obs: np.ndarray,
        held: np.ndarray,
        stats: tuple[torch.Tensor, torch.Tensor] | None,
        argmax: bool,
        box: tuple[np.ndarray, np.ndarray] | None,
    ) -> Any:
        """The kernel's ``Forward`` bound to these arrays and tensors (see ``bind``): it writes the
        argmax of each row's outputs, or the outputs clipped to ``box`` (low, high) where given."""
        mean, std = (NONE, NONE) if stats is None else stats
        low, high = (NONE, NONE) if box is None else (torch.from_numpy(box[0]), torch.from_numpy(box[1]))
        weights, biases = [W for W, _ in layers], [NONE if b is None else b for _, b in layers]
        return kernel.Forward(torch.from_numpy(obs), torch.from_numpy(held), mean, std, weights, biases, argmax, low, high)

    def actions(self, outputs: torch.Tensor) -> np.ndarray:
        """Actions for the environments: (N,) int64 (each a NumPy integer, which gymnasium 1.4's
        Discrete space checks in 3.5 µs against 4.4 µs for a Python int), or (N, n) floats within
        the box."""
        if self.action.discrete:
            return outputs.argmax(dim=1).cpu().numpy()
        values = outputs.cpu().numpy()
        return values if self.action.low is None else np.clip(values, self.action.low, self.action.high)
