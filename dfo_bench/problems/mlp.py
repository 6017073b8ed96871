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
from dataclasses import dataclass
from types import ModuleType
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator

from dfo_bench.lowrank import LowRankPopulation, Matrix, WeightLayout
from dfo_bench.moves import CoordinateMoves
from dfo_bench.params import ParamsModel
from dfo_bench.problems import mlp_deep_moves_kernel, mlp_low_rank_kernel, mlp_moves_kernel
from dfo_bench.problems.base import SPLITS, DifferentiableProblem
from dfo_bench.problems.data import ClassificationData
from dfo_bench.problems.metrics import CLASSIFICATION
from dfo_bench.problems.mlp_moves import IncrementalCache, moves_cache
from dfo_bench.problems.scoring import classification_metrics, macro_precision_recall
from dfo_bench.seeding import torch_generator

# Elements of the widest activation chunk: 2M float32 = 8 MB, so a chunk's activations stay in
# cache between the first GEMM and the layers after it (measured: ~1.3x faster than one pass).
CHUNK_ELEMENTS = 1 << 21
LOW_RANK_BLOCK = 256
"""Members of a low-rank population evaluated together (see ``PopulationMLP.low_rank_losses``)."""
KERNEL_ELEMENTS = 1 << 22
"""Results of the GEMM feeding ``mlp_low_rank_kernel`` per chunk of samples: 4M float32 = 16 MB."""


class PopulationMLP:
    """Layer sizes and the batched forward pass of P MLPs given as rows of a (P, D) matrix.

    Activations are kept feature-major, (P, features, samples): the first layer of all P networks
    is then one (P·h, in) × (in, n) GEMM whose output is already laid out for the batched
    products of the later layers, and the logits come out as (P, classes, n), the layout
    ``cross_entropy`` takes.
    """

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.shapes = list(zip(sizes[1:], sizes[:-1], strict=True))  # (out, in) per layer
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

    def layout(self) -> WeightLayout:
        """Each layer's weight (out, in) is a matrix; its bias, after it, a vector."""
        matrices, offset = [], 0
        for out, inp in self.shapes:
            matrices.append(Matrix(offset, out, inp))
            offset += out * inp + out
        return WeightLayout(self.dim, tuple(matrices))

    def low_rank_layers(self, population: LowRankPopulation) -> LowRankLayers:
        """The first layer as the centre's weights, each member's factor A and the factors Bᵀ of
        the draws the members use (one per antithetic pair), the later layers built per member
        (P, out, in): together far fewer than P × D values."""
        centre = self.unflatten(population.centre.unsqueeze(0))
        matrices = population.layout.matrices
        biases = [
            population.vectors(m.stop, m.stop + m.rows).add_(b[0, :, 0]).unsqueeze(2)
            for m, (_, b) in zip(matrices, centre, strict=True)
        ]
        A = population.scaled_a(0)
        later = []
        for i, ((W, _), b) in enumerate(zip(centre[1:], biases[1:], strict=True), start=1):
            Ai, Bi = population.factors(i)
            later.append((torch.baddbmm(W, Ai, Bi.transpose(1, 2)), b))
        used, member_draw = torch.unique(population.draw, return_inverse=True)
        Bt = population.B[0][used].transpose(1, 2).reshape(len(used) * A.shape[2], -1)
        return LowRankLayers(torch.cat([centre[0][0][0], Bt]), biases[0], A, member_draw, later)

    def low_rank_logits(self, layers: LowRankLayers, xt: torch.Tensor) -> torch.Tensor:
        """Logits (P, classes, n): the centre's first layer and the draws' projections Bᵀ·x as one
        product for all members, each member's rank-r correction A·(Bᵀ·x) from its draw's
        projection, then the later layers per member."""
        A, hidden = layers.A, layers.b.shape[1]
        products = layers.first @ xt
        projections = products[hidden:].view(-1, A.shape[2], xt.shape[1])
        h = products[:hidden].unsqueeze(0) + layers.b
        h.baddbmm_(A, projections[layers.member_draw])
        for W, b in layers.later:
            h = torch.baddbmm(b, W, _relu(h))
        return h

    def low_rank_losses(self, population: LowRankPopulation, xt: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean softmax cross-entropy of each member on (xt, y), shape (P,), without building the
        members. A one-hidden-layer net on the CPU goes through ``mlp_low_rank_kernel`` where it
        builds; otherwise members in blocks of ``LOW_RANK_BLOCK`` so that sample chunks stay long
        enough for efficient matrix products (measured: 3x faster at P = 1,024 than one block)."""
        kernel = self.low_rank_kernel(xt.device)
        if kernel is not None:
            return self.kernel_losses(kernel, population, xt, y)
        n = xt.shape[1]
        parts = []
        for first in range(0, len(population), LOW_RANK_BLOCK):
            block = population[first : first + LOW_RANK_BLOCK]
            layers, P = self.low_rank_layers(block), len(block)
            step = self.chunk_size(P)
            total = torch.zeros(P, device=xt.device)
            for start in range(0, n, step):
                logits = self.low_rank_logits(layers, xt[:, start : start + step])
                total += F.cross_entropy(logits, y[start : start + step].expand(P, -1), reduction="none").sum(dim=1)
            parts.append(total / n)
        return torch.cat(parts)

    def low_rank_kernel(self, device: torch.device) -> ModuleType | None:
        """The compiled kernel of this net's low-rank losses on ``device`` (built on first use), or
        None where the eager path runs: a net without exactly one hidden layer, or not the CPU."""
        return mlp_low_rank_kernel.load() if device.type == "cpu" and len(self.shapes) == 2 else None

    def kernel_losses(self, kernel: ModuleType, population: LowRankPopulation, xt: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``low_rank_losses`` of a one-hidden-layer net through the compiled kernel: the centre's
        first layer and the projections Bᵀ·x of the draws the members use (one per antithetic
        pair) as one GEMM per chunk of samples (chunks of at most ``KERNEL_ELEMENTS`` results),
        the rest per member inside the kernel."""
        layers = self.low_rank_layers(population)
        (W_out, b_out), (P, hidden, rank) = layers.later[0], layers.A.shape
        n, step = xt.shape[1], max(1, KERNEL_ELEMENTS // layers.first.shape[0])
        total = torch.zeros(P, dtype=torch.float64)
        for start in range(0, n, step):
            products = layers.first @ xt[:, start : start + step]
            total += kernel.low_rank_cross_entropy(
                products[:hidden],
                products[hidden:].view(-1, rank, products.shape[1]),
                layers.member_draw,
                layers.b.reshape(P, hidden),
                layers.A.contiguous(),
                W_out.contiguous(),
                b_out.reshape(P, -1),
                y[start : start + step].contiguous(),
            )
        return (total / n).float()

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

    def predictions(self, X: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
        """Predicted class (argmax of the logits) of each candidate on each sample, shape (P, n)."""
        layers = self.unflatten(X)
        n, step = xt.shape[1], self.chunk_size(X.shape[0])
        return torch.cat([self.logits(layers, xt[:, s : s + step]).argmax(dim=1) for s in range(0, n, step)], dim=1)

    def initial_point(self, generator: torch.Generator) -> torch.Tensor:
        """PyTorch's default ``nn.Linear`` initialisation, U(-1/√in, 1/√in), drawn from ``generator``."""
        parts = []
        for out, inp in self.shapes:
            bound = 1.0 / math.sqrt(inp)
            parts.append((torch.rand(out * inp + out, generator=generator) * 2 - 1) * bound)
        return torch.cat(parts)


@dataclass(frozen=True)
class LowRankLayers:
    """A low-rank population as its layers: what ``PopulationMLP.low_rank_logits`` takes."""

    first: torch.Tensor
    """The centre's first-layer weights W (h, in) over the factors Bᵀ of the K draws the members
    use (K·r, in): one product with the inputs gives W·x and every draw's projection Bᵀ·x."""
    b: torch.Tensor
    """Each member's first-layer bias (P, h, 1)."""
    A: torch.Tensor
    """Each member's first-layer factor A scaled by sign·σ/√r, (P, h, r)."""
    member_draw: torch.Tensor
    """(P,) int64: each member's draw, as a block of r rows of ``Bt``."""
    later: list[tuple[torch.Tensor, torch.Tensor]]
    """The later layers per member: weights (P, out, in), biases (P, out, 1)."""

    @property
    def W(self) -> torch.Tensor:
        return self.first[: self.b.shape[1]]

    @property
    def Bt(self) -> torch.Tensor:
        return self.first[self.b.shape[1] :]


def _relu(h: torch.Tensor) -> torch.Tensor:
    """In place when no gradient flows through h (saves a pass over memory), else out of place."""
    return torch.relu(h) if h.requires_grad else h.relu_()


def positive_widths(hidden: list[int]) -> list[int]:
    """The ``hidden`` validator of every MLP's parameters: each layer at least one unit wide."""
    if any(h < 1 for h in hidden):
        raise ValueError(f"hidden widths must be at least 1, got {hidden}")
    return hidden


class MLPParams(ParamsModel):
    hidden: list[int] = Field([32])
    """Widths of the hidden ReLU layers (none: a linear softmax classifier)."""
    super_batch: int | None = Field(None, ge=1)
    """Training samples per evaluation, as circular chunks of the training set; None: the whole set."""
    objective: Literal["cross-entropy", "precision-recall"] = "cross-entropy"
    """Gradient-free loss: mean cross-entropy, or two objectives, 1 − macro-precision and
    1 − macro-recall on the evaluation batch (gradient steps always use cross-entropy)."""

    _positive = field_validator("hidden")(positive_widths)


class MLPClassification(DifferentiableProblem):
    """Cross-entropy of an MLP on a training set, with accuracy and macro-F1 on val and test."""

    reported_metrics = CLASSIFICATION

    Params = MLPParams
    params: MLPParams
    REFRESH_EVERY = 1000
    """Incremental updates of the moves cache (accepted moves) between two full recomputes."""
    has_layout = True
    features: ClassVar[int]
    """Inputs per sample, which the layout needs before the data is loaded."""
    classes: ClassVar[int] = 10
    """Classes, the output layer's width."""

    def __init__(self, params: MLPParams, seed: int, device: torch.device) -> None:
        super().__init__(params, seed, device)
        self.data = self.load_data().to(device)
        self._xt = {split: self.data.split(split).x.t().contiguous() for split in SPLITS}
        features = self.data.train.x.shape[1]
        self.net = PopulationMLP([features, *params.hidden, self.data.n_classes])
        self._moves_cache: IncrementalCache | None = None

    @abstractmethod
    def load_data(self) -> ClassificationData:
        """The seeded splits, on the CPU."""

    @classmethod
    def objectives_of(cls, params: ParamsModel) -> int:
        return 2 if getattr(params, "objective", None) == "precision-recall" else 1

    @classmethod
    def super_batch_of(cls, params: ParamsModel) -> int | None:
        return params.super_batch if isinstance(params, MLPParams) else None

    @classmethod
    def layout_of(cls, params: ParamsModel) -> WeightLayout | None:
        hidden = params.hidden if isinstance(params, MLPParams) else [32]
        return PopulationMLP([cls.features, *hidden, cls.classes]).layout()

    @property
    def layout(self) -> WeightLayout:
        return self.net.layout()

    @property
    def reference_point(self) -> tuple[float, ...] | None:
        """(1, 1): the worst 1 − precision and 1 − recall; the hypervolume is then the area of the
        (precision, recall) square the front dominates."""
        return (1.0, 1.0) if self.objectives == 2 else None

    @property
    def dim(self) -> int:
        return self.net.dim

    @property
    def train_size(self) -> int:
        return self.data.train.x.shape[0]

    def initial_point(self) -> torch.Tensor:
        return self.net.initial_point(torch_generator(self.seed, self.name, "initial-point")).to(self.device)

    def prepare(self, moves: bool, low_rank: bool) -> None:
        """Compile (first run on a machine: 20–60 s) or load (0.2 s) the CPU kernel the optimizer's
        populations use: ``mlp_moves``' for one-coordinate moves (the deep one for two or more
        hidden layers), the low-rank one for a low-rank population of a one-hidden-layer net."""
        if moves and self.device.type == "cpu" and (len(self.params.hidden) < 2 or mlp_deep_moves_kernel.load() is None):
            mlp_moves_kernel.load()
        if low_rank:
            self.net.low_rank_kernel(self.device)

    def _evaluate(self, X: torch.Tensor, batch: torch.Tensor | None) -> torch.Tensor:
        xt, y = (self._xt["train"], self.data.train.y) if batch is None else (self._features(batch), self.data.train.y[batch])
        if self.params.objective == "precision-recall":
            return (1.0 - macro_precision_recall(self.net.predictions(X, xt), y, self.data.n_classes)).to(X.dtype)
        return self.net.losses(X, xt, y)

    def _evaluate_low_rank(self, population: LowRankPopulation, batch: torch.Tensor | None) -> torch.Tensor:
        """Members evaluated from the centre and their factors (exact to float rounding against
        ``population.dense()``); peak memory holds the later layers per member, never P × D values.
        A population of another layout (an optimizer built without this network's) is evaluated dense,
        and so is one for the two objectives of ``precision-recall``, which no low-rank optimizer
        (single-objective) is paired with in a suite."""
        if population.layout != self.layout or self.params.objective == "precision-recall":
            return self._evaluate(population.dense(), batch)
        xt, y = (self._xt["train"], self.data.train.y) if batch is None else (self._features(batch), self.data.train.y[batch])
        return self.net.low_rank_losses(population, xt, y)

    def _evaluate_moves(self, moves: CoordinateMoves, batch: torch.Tensor | None) -> torch.Tensor:
        """Moves from the cached activations of ``moves.base`` (float64, the losses equal to float32
        rounding): every layer's with two or more hidden layers and the deep kernel, else the last two layers';
        moves in earlier layers, and every move on a batch (whose data changes each call), by a
        full forward pass."""
        if batch is not None or self.params.objective != "cross-entropy":
            return self._evaluate(moves.dense(), batch)
        if self._moves_cache is None:
            self._moves_cache = moves_cache(self.net, self._xt["train"], self.data.train.y, self.REFRESH_EVERY)
        if self._moves_cache.all_fast(moves.index):
            return self._moves_cache.evaluate(moves)
        fast = moves.index >= self._moves_cache.hidden_start
        losses = torch.empty(len(moves), device=self.device)
        slow = torch.nonzero(~fast).flatten()
        losses[slow] = self._evaluate(CoordinateMoves(moves.base, moves.index[slow], moves.value[slow]).dense(), None)
        if len(slow) < len(moves):
            rows = torch.nonzero(fast).flatten()
            losses[rows] = self._moves_cache.evaluate(CoordinateMoves(moves.base, moves.index[rows], moves.value[rows]))
        return losses

    def _features(self, idx: torch.Tensor) -> torch.Tensor:
        """Training samples idx, feature-major (in, n): rows gathered, then transposed, which is
        several times faster than gathering columns of the feature-major copy."""
        return self.data.train.x[idx].t().contiguous()

    def loss_and_grad(self, x: torch.Tensor, batch: torch.Tensor | None) -> tuple[float, torch.Tensor]:
        idx = torch.arange(self.train_size, device=self.device) if batch is None else batch
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
        metrics = classification_metrics(logits.t(), labels, self.data.n_classes)
        if self.params.objective == "precision-recall":
            precision, recall = macro_precision_recall(logits.argmax(dim=0).unsqueeze(0), labels, self.data.n_classes)[0].tolist()
            metrics |= {"precision": precision, "recall": recall}
        return metrics
