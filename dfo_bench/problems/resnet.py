"""ResNet-18 on CIFAR-10 / CIFAR-100: the HBDE protocol's network, on CPU or GPU.

The CIFAR form of ResNet-18 (3×3 stem, no max-pool, four stages of two basic blocks; 11.2M
weights at ``width: 1``). A candidate is the flat vector of the trainable parameters; BatchNorm
running statistics are state, not search coordinates: gradient steps (pre-training, Adam) train
in train mode and update them, gradient-free evaluation runs in eval mode with them fixed, and a
pre-trained start carries them (``state``/``load_state``). The gradient-free objective is
1 − macro-F1 (not differentiable) or cross-entropy on circular super-batches of the training set.

A population is evaluated one candidate after another (``torch.func.functional_call`` on the
candidate's weights): a conv net's forward over a super-batch already fills the machine, and
``benchmarks/bench_resnet.py`` measures the alternative, ``vmap`` over the population, for
``population: vmap``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn
from torch.func import functional_call, vmap

from dfo_bench.lowrank import LowRankPopulation, Matrix, WeightLayout
from dfo_bench.params import ParamsModel
from dfo_bench.problems.base import DifferentiableProblem, check_split
from dfo_bench.problems.cifar_data import ImageSplit, check_source, load_cifar, normalise, source_fingerprint
from dfo_bench.problems.metrics import CLASSIFICATION
from dfo_bench.problems.scoring import classification_metrics, macro_f1, macro_precision_recall
from dfo_bench.seeding import torch_generator


class BasicBlock(nn.Module):
    def __init__(self, inp: int, out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.shortcut = nn.Sequential()
        if stride != 1 or inp != out:
            self.shortcut = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class ResNet18(nn.Module):
    """CIFAR ResNet-18: 3×3 stem, no max-pool, stages of 64·w, 128·w, 256·w, 512·w channels."""

    def __init__(self, n_classes: int, width: float = 1.0) -> None:
        super().__init__()
        channels = [max(1, round(c * width)) for c in (64, 128, 256, 512)]
        self.stem = nn.Sequential(nn.Conv2d(3, channels[0], 3, 1, 1, bias=False), nn.BatchNorm2d(channels[0]), nn.ReLU())
        blocks, inp = [], channels[0]
        for i, out in enumerate(channels):
            for j in range(2):
                blocks.append(BasicBlock(inp, out, 2 if i > 0 and j == 0 else 1))
                inp = out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(inp, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(x))
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))


class ResNetParams(ParamsModel):
    root: str | None = None
    """Folder with torchvision's CIFAR files, an ImageFolder tree or its .tar.gz; None: $DFO_BENCH_DATA or ~/.cache/dfo-bench."""
    download: bool = False
    """Download with torchvision when nothing is found (needs a network)."""
    n_train: int | None = Field(None, ge=10)
    """Class-balanced training images; None: all but the validation set."""
    n_val: int = Field(5000, ge=10)
    """Class-balanced validation images, drawn from the training set by the seed."""
    n_test: int | None = Field(None, ge=10)
    """Class-balanced test images; None: the whole test set."""
    width: float = Field(1.0, gt=0, le=4)
    """Channel multiplier; 1 is ResNet-18 (11.2M weights)."""
    objective: Literal["f1", "cross-entropy", "precision-recall"] = "f1"
    """Gradient-free loss: 1 − macro-F1, mean cross-entropy, or two objectives, 1 − macro-precision
    and 1 − macro-recall (gradient steps always use cross-entropy)."""
    super_batch: int = Field(1000, ge=1)
    """Training images per evaluation, circular chunks of a seeded shuffle (a run may name another)."""
    forward_chunk: int = Field(500, ge=1)
    """Images per forward pass: bounds memory, changes no result."""
    population: Literal["loop", "vmap"] = "loop"
    """How a population is evaluated: one candidate after another, or vmap over candidates
    (measured on the CPU: the loop is about twice as fast; see benchmarks/bench_resnet.py)."""
    vmap_chunk: int = Field(8, ge=1)
    """Candidates per vmap call, which bounds the activations held at once."""
    augment: bool = True
    """Random crop (padding 4) and horizontal flip on gradient minibatches."""

    dataset: ClassVar[str]
    locations: ClassVar[tuple[str, ...]] = ("root", "download")

    @model_validator(mode="after")
    def _data_present(self) -> ResNetParams:
        check_source(self.dataset, self._root(), self.download)
        return self

    def _root(self) -> Path | None:
        return None if self.root is None else Path(self.root)

    def data_fingerprint(self) -> str:
        """The source that will be read (archive, image tree or torchvision's batches), wherever it is."""
        return source_fingerprint(self.dataset, self._root(), self.download)


class Cifar10Params(ResNetParams):
    dataset: ClassVar[str] = "cifar10"
    classes: ClassVar[int] = 10


class Cifar100Params(ResNetParams):
    dataset: ClassVar[str] = "cifar100"
    classes: ClassVar[int] = 100


def resnet_layout(net: nn.Module) -> WeightLayout:
    """Convolution kernels (out, in, k, k) as (out, in·k·k) matrices (their row-major storage) and
    the final linear layer's weight as matrices; BatchNorm scales and shifts and biases as vectors."""
    matrices, offset = [], 0
    for p in net.parameters():
        if p.ndim >= 2:
            matrices.append(Matrix(offset, p.shape[0], p[0].numel()))
        offset += p.numel()
    return WeightLayout(offset, tuple(matrices))


class CifarResNet(DifferentiableProblem):
    """ResNet-18 on a CIFAR dataset; subclasses name the dataset."""

    Params: ClassVar[type[ParamsModel]] = ResNetParams
    params: ResNetParams
    has_layout = True
    reported_metrics = CLASSIFICATION

    def __init__(self, params: ResNetParams, seed: int, device: torch.device) -> None:
        super().__init__(params, seed, device)
        self.dataset = params.dataset
        splits = load_cifar(
            self.dataset,
            params._root(),
            n_train=params.n_train,
            n_val=params.n_val,
            n_test=params.n_test,
            seed=seed,
            download=params.download,
        )
        self.n_classes = splits.n_classes
        self.splits: dict[str, ImageSplit] = {"train": splits.train, "val": splits.val, "test": splits.test}
        self.images = {k: torch.from_numpy(v.images).to(device) for k, v in self.splits.items()}
        self.labels = {k: torch.from_numpy(v.labels).to(device) for k, v in self.splits.items()}
        with torch.device("meta"):
            net = ResNet18(self.n_classes, params.width)
        self.net = net.to_empty(device=device).eval()
        initialise(self.net, torch_generator(seed, self.name, "initial-point"))
        self.names = [name for name, _ in self.net.named_parameters()]
        self.shapes = [p.shape for p in self.net.parameters()]
        self._x0 = nn.utils.parameters_to_vector(self.net.parameters()).detach()
        self._augment = torch_generator(seed, self.name, "augment")

    @classmethod
    def objectives_of(cls, params: ParamsModel) -> int:
        return 2 if getattr(params, "objective", None) == "precision-recall" else 1

    @classmethod
    def super_batch_of(cls, params: ParamsModel) -> int | None:
        return params.super_batch if isinstance(params, ResNetParams) else None

    @classmethod
    def layout_of(cls, params: ParamsModel) -> WeightLayout | None:
        """Built on the meta device: no weights are allocated."""
        if not isinstance(params, (Cifar10Params, Cifar100Params)):
            return None
        with torch.device("meta"):
            return resnet_layout(ResNet18(params.classes, params.width))

    @classmethod
    def train_size_of(cls, params: ParamsModel) -> int | None:
        """``n_train`` when given; None: all but the validation set, known once the data is read."""
        return params.n_train if isinstance(params, ResNetParams) else None

    @property
    def reference_point(self) -> tuple[float, ...] | None:
        """(1, 1): the worst 1 − precision and 1 − recall."""
        return (1.0, 1.0) if self.objectives == 2 else None

    @property
    def layout(self) -> WeightLayout:
        return resnet_layout(self.net)

    @property
    def dim(self) -> int:
        return self._x0.numel()

    @property
    def train_size(self) -> int:
        return len(self.labels["train"])

    def initial_point(self) -> torch.Tensor:
        return self._x0.clone()

    def state(self) -> dict[str, torch.Tensor]:
        return {name: b.detach().cpu().clone() for name, b in self.net.named_buffers()}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        buffers = dict(self.net.named_buffers())
        for name, value in state.items():
            buffers[name].copy_(value)

    def weights(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The flat vector x as a name → parameter dict (views, no copies)."""
        parts = x.split([math.prod(s) for s in self.shapes])
        return dict(zip(self.names, (p.view(s) for p, s in zip(parts, self.shapes, strict=True)), strict=True))

    def logits(self, x: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Eval-mode logits of one candidate on uint8 images, in chunks of ``forward_chunk``."""
        weights = self.weights(x)
        step = self.params.forward_chunk
        return torch.cat(
            [functional_call(self.net, weights, (self._inputs(images[s : s + step]),)) for s in range(0, len(images), step)]
        )

    def _inputs(self, images: torch.Tensor) -> torch.Tensor:
        return normalise(images, self.dataset)

    def _objective(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The loss of one candidate's logits: a scalar, or (1 − precision, 1 − recall)."""
        if self.params.objective == "f1":
            return torch.tensor(1.0 - macro_f1(logits.argmax(dim=1), labels, self.n_classes))
        if self.params.objective == "precision-recall":
            return 1.0 - macro_precision_recall(logits.argmax(dim=1).unsqueeze(0), labels, self.n_classes)[0].cpu().float()
        return F.cross_entropy(logits, labels).detach().cpu()

    def _evaluate(self, X: torch.Tensor, batch: torch.Tensor | None) -> torch.Tensor:
        idx = torch.arange(self.train_size, device=self.device) if batch is None else batch
        images, labels = self.images["train"][idx], self.labels["train"][idx]
        if self.params.population == "vmap":
            step = self.params.vmap_chunk
            logits = torch.cat([self._vmap_logits(X[s : s + step], images) for s in range(0, len(X), step)])
            return torch.stack([self._objective(row, labels) for row in logits]).to(self.device)
        return torch.stack([self._objective(self.logits(x, images), labels) for x in X]).to(self.device)

    def _evaluate_low_rank(self, population: LowRankPopulation, batch: torch.Tensor | None) -> torch.Tensor:
        """The dense evaluation, its members built as they are evaluated (one at a time, or a vmap
        chunk at a time) so that P × D floats are never held: a ResNet's members share no work
        a low-rank path could exploit beyond the stem (docs/lowrank.md)."""
        step = self.params.vmap_chunk if self.params.population == "vmap" else 1
        return torch.cat([self._evaluate(population[s : s + step].dense(), batch) for s in range(0, len(population), step)])

    def _vmap_logits(self, X: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """(P, n, classes): every candidate on the same images through ``torch.func.vmap``."""
        inputs = self._inputs(images)
        step = self.params.forward_chunk

        def one(x: torch.Tensor, chunk: torch.Tensor) -> torch.Tensor:
            return functional_call(self.net, self.weights(x), (chunk,))

        return torch.cat([vmap(one, in_dims=(0, None))(X, inputs[s : s + step]) for s in range(0, len(inputs), step)], dim=1)

    def loss_and_grad(self, x: torch.Tensor, batch: torch.Tensor | None) -> tuple[float, torch.Tensor]:
        idx = torch.arange(self.train_size, device=self.device) if batch is None else batch
        inputs = self._inputs(self.images["train"][idx])
        if self.params.augment:
            inputs = augment(inputs, self._augment)
        w = x.detach().clone().requires_grad_(True)
        self.net.train()
        try:
            with torch.enable_grad():
                loss = F.cross_entropy(functional_call(self.net, self.weights(w), (inputs,)), self.labels["train"][idx])
                (grad,) = torch.autograd.grad(loss, w)
        finally:
            self.net.eval()
        return float(loss.detach()), grad

    def metrics(self, x: torch.Tensor, split: str) -> dict[str, float]:
        check_split(split)
        with torch.no_grad():
            logits = self.logits(x.to(self.device, torch.float32), self.images[split])
        metrics = classification_metrics(logits, self.labels[split], self.n_classes)
        if self.params.objective == "precision-recall":
            pair = macro_precision_recall(logits.argmax(dim=1).unsqueeze(0), self.labels[split], self.n_classes)[0]
            metrics |= {"precision": float(pair[0]), "recall": float(pair[1])}
        return metrics


def initialise(net: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default initialisation of every layer, drawn from ``generator`` instead of the
    global generator: the same values, in the same order, as building the network after
    ``torch.manual_seed`` (the draws are made on the CPU, so every device gets the same weights)."""
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            weight = torch.empty(module.weight.shape)
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
            module.weight.data.copy_(weight)
            if module.bias is not None:
                bound = 1 / math.sqrt(weight[0].numel())
                module.bias.data.copy_(torch.empty(module.bias.shape).uniform_(-bound, bound, generator=generator))
        elif isinstance(module, nn.BatchNorm2d):
            module.reset_parameters()


def augment(inputs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crop with 4 pixels of zero padding and a random horizontal flip, per image."""
    n, _, h, w = inputs.shape
    padded = F.pad(inputs, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=generator)
    dx = torch.randint(0, 9, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None]).to(inputs.device)
    cols = (dx[:, None] + torch.arange(w)[None]).to(inputs.device)
    out = padded[
        torch.arange(n, device=inputs.device)[:, None, None, None],
        torch.arange(inputs.shape[1], device=inputs.device)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]
    flip = (torch.rand(n, generator=generator) < 0.5).to(inputs.device)
    return torch.where(flip[:, None, None, None], out.flip(3), out)


class Cifar10ResNet18(CifarResNet):
    name = "cifar10-resnet18"
    description = "CIFAR ResNet-18 (11.2M weights, width option) on CIFAR-10; 1 - macro-F1 or CE on circular super-batches"
    Params = Cifar10Params


class Cifar100ResNet18(CifarResNet):
    name = "cifar100-resnet18"
    description = "CIFAR ResNet-18 (11.2M weights, width option) on CIFAR-100; 1 - macro-F1 or CE on circular super-batches"
    Params = Cifar100Params
