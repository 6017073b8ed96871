"""Policies of a whole population, evaluated as one batched forward per environment step.

A candidate is a flat weight vector. ``linear`` is ARS's policy, a = M·s with M of shape
(actions, observations) row-major and no bias, started at zero as in the paper. ``mlp`` is
``nn.Sequential(Linear, Tanh, ..., Linear)`` in ``parameters_to_vector`` order (each layer's weight
(out, in) row-major, then its bias; PyTorch's default initialisation), the layout
``dfo_bench.problems.mlp.PopulationMLP`` uses, so the PPO baseline's actor maps onto it.
Outputs become actions deterministically: the argmax for a discrete space, the outputs clipped to
the box for a continuous one (a Gaussian policy's mean, as PPO is measured).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dfo_bench.lowrank import Matrix, WeightLayout
from dfo_bench.problems.mlp import PopulationMLP

Layers = list[tuple[torch.Tensor, torch.Tensor | None]]
"""Per layer, transposed weights (N, in, out), contiguous, and biases (N, 1, out) or None: a row of
observations times a matrix is the fast way round for batched matrix-vector products (measured on
one core: 60 µs against 460 µs for 64 policies of 64×64)."""


@dataclass(frozen=True)
class ActionSpace:
    """What a policy's outputs must become: ``n`` discrete actions, or a box of ``n`` dimensions."""

    n: int
    discrete: bool
    low: np.ndarray | None = None
    high: np.ndarray | None = None


class PopulationPolicy:
    """Layer sizes, initialisation and the batched forward pass of N policies given as rows of (N, D)."""

    def __init__(self, kind: str, observations: int, action: ActionSpace, hidden: list[int]) -> None:
        self.kind, self.action, self.observations = kind, action, observations
        self.mlp = PopulationMLP([observations, *hidden, action.n]) if kind == "mlp" else None
        self.shape = (action.n, observations)
        self.dim = self.mlp.dim if self.mlp is not None else action.n * observations

    def initial_point(self, generator: torch.Generator) -> torch.Tensor:
        """ARS's zero matrix for ``linear``; ``nn.Linear``'s default for ``mlp``."""
        return torch.zeros(self.dim) if self.mlp is None else self.mlp.initial_point(generator)

    def layout(self) -> WeightLayout:
        """The weight matrices low-rank optimizers perturb: ``linear``'s M, or each MLP layer's weight."""
        if self.mlp is None:
            return WeightLayout(self.dim, (Matrix(0, *self.shape),))
        return self.mlp.layout()

    def layers(self, X: torch.Tensor) -> Layers:
        """The N policies of X (N, D), laid out for ``outputs``."""
        if self.mlp is None:
            return [(X.reshape(X.shape[0], *self.shape).transpose(1, 2).contiguous(), None)]
        return [(W.transpose(1, 2).contiguous(), b.transpose(1, 2).contiguous()) for W, b in self.mlp.unflatten(X)]

    @staticmethod
    def select(layers: Layers, rows: torch.Tensor) -> Layers:
        """The layers of the policies ``rows`` only."""
        return [(W[rows], None if b is None else b[rows]) for W, b in layers]

    def outputs(self, layers: Layers, obs: torch.Tensor) -> torch.Tensor:
        """(N, actions) outputs of the N policies on their observations (N, observations)."""
        h = obs.unsqueeze(1)
        for i, (W, b) in enumerate(layers):
            h = torch.bmm(h, W) if b is None else torch.baddbmm(b, h, W)
            if i < len(layers) - 1:
                h = torch.tanh(h)
        return h.squeeze(1)

    def actions(self, outputs: torch.Tensor) -> list[int] | np.ndarray:
        """Actions for the environments: N Python integers (what a Discrete space checks fastest),
        or (N, n) floats within the box."""
        if self.action.discrete:
            return outputs.argmax(dim=1).tolist()
        values = outputs.cpu().numpy()
        return values if self.action.low is None else np.clip(values, self.action.low, self.action.high)
