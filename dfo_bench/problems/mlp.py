"""Fully connected ReLU classifiers whose whole population is evaluated in batched GEMMs.

A candidate is the flat vector of ``nn.Sequential(Linear, ReLU, ..., Linear)`` parameters in
``parameters_to_vector`` order (each layer's weight (out, in) row-major, then its bias). For a
population of P candidates the first layer of all P networks is one GEMM of the input chunk
with a (P·h, in) matrix; later layers are batched matrix products. Samples are processed in
chunks so memory stays bounded whatever the population size.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from functools import cached_property

import torch
import torch.nn.functional as F

from dfo_bench.params import ParamsModel
from dfo_bench.problems.base import SPLITS, Problem
from dfo_bench.problems.data import CircularBatches, ClassificationData
from dfo_bench.problems.metrics import classification_metrics
from dfo_bench.seeding import torch_generator

# Elements of the widest activation chunk: 2M float32 = 8 MB, so a chunk's activations stay in
# cache between the first GEMM and the layers after it (measured: ~1.3x faster than one pass).
CHUNK_ELEMENTS = 1 << 21


class PopulationMLP:
    """Layer sizes and the batched forward pass of P MLPs given as rows of a (P, D) matrix.

    Activations are kept feature-major, (P, features, samples): the first layer of all P networks
    is then one (P·h, in) × (in, n) GEMM whose output is already laid out for the batched
    products of the later layers, and the logits come out as (P, classes, n), the layout
    ``cross_entropy`` takes.
    """

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.shapes = list(zip(sizes[1:], sizes[:-1]))  # (out, in) per layer
        self.dim = sum(o * i + o for o, i in self.shapes)

    def unflatten(self, X: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer, weights (P, out, in) and biases (P, out, 1), viewed or copied out of X."""
        P, layers, offset = X.shape[0], [], 0
        for out, inp in self.shapes:
            W = X[:, offset : offset + out * inp].reshape(P, out, inp)
            offset += out * inp
            b = X[:, offset : offset + out].reshape(P, out, 1)
            offset += out
            layers.append((W, b))
        return layers

    def logits(self, layers: list[tuple[torch.Tensor, torch.Tensor]], xt: torch.Tensor) -> torch.Tensor:
        """Logits (P, classes, n) of every candidate on feature-major inputs xt of shape (in, n)."""
        W, b = layers[0]
        P, out, inp = W.shape
        h = torch.addmm(b.reshape(P * out, 1), W.reshape(P * out, inp), xt).view(P, out, -1)
        for W, b in layers[1:]:
            h = torch.baddbmm(b, W, _relu(h))
        return h

    def chunk_size(self, population: int) -> int:
        return max(1, CHUNK_ELEMENTS // (population * max(self.sizes[1:])))

    def losses(self, X: torch.Tensor, xt: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean softmax cross-entropy of each candidate on (xt, y), shape (P,)."""
        layers = self.unflatten(X)
        n, step = xt.shape[1], self.chunk_size(X.shape[0])
        total = torch.zeros(X.shape[0], dtype=X.dtype, device=X.device)
        for start in range(0, n, step):
            logits = self.logits(layers, xt[:, start : start + step])
            target = y[start : start + step].expand(X.shape[0], -1)
            total = total + F.cross_entropy(logits, target, reduction="none").sum(dim=1)
        return total / n

    def initial_point(self, generator: torch.Generator) -> torch.Tensor:
        """PyTorch's default ``nn.Linear`` initialisation, U(-1/√in, 1/√in), drawn from ``generator``."""
        parts = []
        for out, inp in self.shapes:
            bound = 1.0 / math.sqrt(inp)
            parts.append((torch.rand(out * inp + out, generator=generator) * 2 - 1) * bound)
        return torch.cat(parts)


def _relu(h: torch.Tensor) -> torch.Tensor:
    """In place when no gradient flows through h (saves a pass over memory), else out of place."""
    return torch.relu(h) if h.requires_grad else h.relu_()


class MLPParams(ParamsModel):
    hidden: list[int] = [32]
    """Widths of the hidden ReLU layers."""
    eval_batch: int | None = None
    """Samples per evaluation, as circular batches of the training set; None: the whole set."""


class MLPClassification(Problem):
    """Cross-entropy of an MLP on a training set, with accuracy and macro-F1 on val and test."""

    Params = MLPParams
    params: MLPParams

    def __init__(self, params: MLPParams, seed: int, device: torch.device) -> None:
        super().__init__(params, seed, device)
        self.data = self.load_data().to(device)
        self._xt = {split: self.data.split(split).x.t().contiguous() for split in SPLITS}
        features = self.data.train.x.shape[1]
        self.net = PopulationMLP([features, *params.hidden, self.data.n_classes])
        n_train = self.data.train.x.shape[0]
        self._eval_batches = (
            CircularBatches(n_train, params.eval_batch, torch_generator(seed, self.name, "eval-batches"))
            if params.eval_batch is not None
            else None
        )
        self._minibatches: dict[int, CircularBatches] = {}

    @abstractmethod
    def load_data(self) -> ClassificationData:
        """The seeded splits, on the CPU."""

    @property
    def dim(self) -> int:
        return self.net.dim

    @cached_property
    def samples_per_evaluation(self) -> int:
        return self.params.eval_batch or self.data.train.x.shape[0]

    def initial_point(self) -> torch.Tensor:
        return self.net.initial_point(torch_generator(self.seed, self.name, "initial-point"))

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        xt, y = self._xt["train"], self.data.train.y
        if self._eval_batches is None:
            return self.net.losses(X, xt, y)
        idx = self._eval_batches.next().to(self.device)
        return self.net.losses(X, self._features(idx), y[idx])

    def _features(self, idx: torch.Tensor) -> torch.Tensor:
        """Training samples idx, feature-major (in, n): rows gathered, then transposed, which is
        several times faster than gathering columns of the feature-major copy."""
        return self.data.train.x[idx].t().contiguous()

    def _loss_and_grad(self, x: torch.Tensor, batch_size: int) -> tuple[float, torch.Tensor]:
        if batch_size not in self._minibatches:
            stream = torch_generator(self.seed, self.name, "minibatches", batch_size)
            self._minibatches[batch_size] = CircularBatches(self.data.train.x.shape[0], batch_size, stream)
        idx = self._minibatches[batch_size].next().to(self.device)
        w = x.detach().clone().requires_grad_(True)
        loss = self.net.losses(w.unsqueeze(0), self._features(idx), self.data.train.y[idx])[0]
        (grad,) = torch.autograd.grad(loss, w)
        return float(loss.detach()), grad

    def metrics(self, x: torch.Tensor, split: str) -> dict[str, float]:
        labels = self.data.split(split).y  # also rejects an unknown split name
        xt, step = self._xt[split], self.net.chunk_size(1)
        with torch.no_grad():
            layers = self.net.unflatten(x.to(self.device, torch.float32).unsqueeze(0))
            logits = torch.cat([self.net.logits(layers, xt[:, s : s + step])[0] for s in range(0, xt.shape[1], step)], 1)
        return classification_metrics(logits.t(), labels, self.data.n_classes)
