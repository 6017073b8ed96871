"""Hyper-parameter optimisation of an MLP: each evaluation trains one network with Adam.

The domain is that of the study of Pintus (2024, "Hyperparameters optimization for neural
networks with evolution strategies", University of Trieste): hidden ``layers`` 1–5, ``neurons``
per hidden layer 16–128, ``activation`` one of six, ``dropout`` 0–0.5 after every hidden layer.
A candidate's loss is the validation MSE (``sinewave``) or validation cross-entropy (``digits``,
``mnist``) of the network trained on the training split for ``epochs`` epochs of Adam.

Two objectives (``objective: loss-size``, the ``mo-hpo`` study): the same validation loss and the
network's size, its parameter count p (weights and biases) normalised on a log scale over the
domain, (ln p − ln p_min) / (ln p_max − ln p_min): 0 for the smallest network of the domain (one
hidden layer of 16), 1 for the largest (five of 128). The hypervolume's reference point is
(the loss of a useless model, 1): MSE 1 on the sine waves (whose targets lie in [−1, 1], so
predicting 0 scores at most 1), cross-entropy ln(classes) (the uniform guess) on digits and MNIST;
and the largest network. Trained networks reach MSEs near 1e-3 on the sine waves, far below the
reference, so there a front's hypervolume is within a thousandth of 1 and separates methods
little: ``suites/mo-hpo.yaml`` uses digits.

Cost: one evaluation is one training, charged ``evaluation_samples`` forward-equivalent samples:
3 per training sample per epoch (forward 1, backward 2) plus 1 per validation sample (the
forward pass that scores it). The objective charges it, before the work, like any evaluation.

Noise: the training's randomness (initial weights, minibatch order, dropout masks) comes from a
torch generator seeded by the run's seed and the decoded configuration, so every optimizer that
proposes the same configuration in the same run gets the same trained network and loss. Train,
validation and test metrics of each trained configuration are kept (a few floats), so the
checkpoints' measurements of the recommended configuration cost no second training.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator

from dfo_bench.domain import TypedDomain, Value
from dfo_bench.hashing import canonical_json
from dfo_bench.params import ParamsModel
from dfo_bench.problems import hpo_data
from dfo_bench.problems.base import SPLITS, TypedProblem, check_split
from dfo_bench.problems.data import ClassificationData
from dfo_bench.problems.datasets import data_root, describe_root, fingerprint
from dfo_bench.problems.metrics import CLASSIFICATION
from dfo_bench.problems.mnist import available_sets, idx_files
from dfo_bench.problems.scoring import classification_metrics
from dfo_bench.ranges import IntRange, choice, integers, ranges, uniform
from dfo_bench.seeding import torch_generator

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "gelu": F.gelu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}

DOMAIN = TypedDomain(
    ranges(layers=integers(1, 5), neurons=integers(16, 128), activation=choice(*ACTIVATIONS), dropout=uniform(0.0, 0.5)),
    default={"layers": 1, "neurons": 64, "activation": "relu", "dropout": 0.0},
)
"""The study's domain; the default configuration is where a run's recommendation starts."""

SIZES = {"sinewave": (600, 200, 200), "digits": (1077, 360, 360), "mnist": (2000, 1000, 1000)}
"""Default (train, val, test) sizes per data set (digits: its 1,797 images, the rest for training)."""


class MLPHPOParams(ParamsModel):
    locations: ClassVar[tuple[str, ...]] = ("root",)
    dataset: Literal["sinewave", "digits", "mnist"] = "sinewave"
    epochs: int = Field(10, ge=1, le=10_000)
    """Adam epochs per evaluation (one training)."""
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-3, gt=0)
    """Adam's learning rate (its other settings are torch's defaults)."""
    n_train: int | None = Field(None, ge=1)
    n_val: int | None = Field(None, ge=1)
    n_test: int | None = Field(None, ge=1)
    """Split sizes; None: the data set's default (``SIZES``). Digits trains on all the rest."""
    objective: Literal["loss", "loss-size"] = "loss"
    """``loss``: the validation loss; ``loss-size``: two objectives, the validation loss and the
    network's normalised log parameter count (module docstring)."""
    root: Path = Field(default_factory=lambda: data_root("mnist"))
    """MNIST's IDX folder (dataset mnist only); default $DFO_BENCH_DATA/mnist or ~/.cache/dfo-bench/mnist."""

    @model_validator(mode="after")
    def _data_present(self) -> MLPHPOParams:
        if self.dataset == "mnist" and "test" not in available_sets(self.root):
            raise ValueError(
                f"no MNIST IDX files in {describe_root(self.root, 'root' not in self.model_fields_set)} "
                "(need t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]); set root to such a folder"
            )
        if self.dataset == "digits" and self.n_train is not None:
            raise ValueError("digits trains on the images left after n_val and n_test; n_train is not taken")
        return self

    def sizes(self) -> tuple[int, int, int]:
        train, val, test = SIZES[self.dataset]
        return (self.n_train or train, self.n_val or val, self.n_test or test)

    def data_fingerprint(self) -> str | None:
        return fingerprint(idx_files(self.root)) if self.dataset == "mnist" else None


class MLPHPO(TypedProblem):
    """Validation loss of an MLP trained with Adam, as a function of its hyper-parameters."""

    name = "mlp-hpo"
    description = "Hyper-parameters of an MLP (layers, neurons, activation, dropout); each evaluation trains it with Adam"
    Params = MLPHPOParams
    params: MLPHPOParams
    reported_metrics = CLASSIFICATION

    def __init__(self, params: MLPHPOParams, seed: int, device: torch.device) -> None:
        super().__init__(params, seed, device)
        data = hpo_data.load(params.dataset, params.root, seed, params.sizes())
        self.data = ClassificationData(data.train.to(device), data.val.to(device), data.test.to(device), data.n_classes)
        self.trained_samples = 0
        """Forward-equivalent samples of every training and validation pass so far (what the charge must equal)."""
        self._measured: dict[str, dict[str, dict[str, float]]] = {}
        """Metrics per split of each configuration trained, by its canonical JSON."""

    @classmethod
    def objectives_of(cls, params: ParamsModel) -> int:
        return 2 if getattr(params, "objective", None) == "loss-size" else 1

    @classmethod
    def declared_dim(cls, params: ParamsModel) -> int | None:
        return DOMAIN.dim

    @property
    def reference_point(self) -> tuple[float, ...] | None:
        """(the loss of a useless model, the largest network's size 1); see the module docstring."""
        if self.objectives == 1:
            return None
        return (1.0 if self.data.n_classes == 0 else math.log(self.data.n_classes), 1.0)

    @property
    def domain(self) -> TypedDomain:
        return DOMAIN

    def parameters(self, config: dict[str, Value]) -> int:
        """Weights and biases of the network of ``config``."""
        return sum((inp + 1) * out for inp, out in itertools.pairwise(self._sizes(config)))

    def size(self, config: dict[str, Value]) -> float:
        """The normalised log parameter count of ``config``'s network: 0 the domain's smallest, 1 its largest."""
        layers, neurons = DOMAIN["layers"], DOMAIN["neurons"]
        assert isinstance(layers, IntRange) and isinstance(neurons, IntRange)
        smallest = self.parameters(config | {"layers": layers.low, "neurons": neurons.low})
        largest = self.parameters(config | {"layers": layers.high, "neurons": neurons.high})
        return math.log(self.parameters(config) / smallest) / math.log(largest / smallest)

    @property
    def train_size(self) -> int:
        return len(self.data.train.y)

    @property
    def evaluation_samples(self) -> int:
        return 3 * self.params.epochs * self.train_size + len(self.data.val.y)

    def _evaluate(self, X: torch.Tensor, batch: torch.Tensor | None) -> torch.Tensor:
        configs = [self.domain.decode(x) for x in X]
        losses = [self._train(config, count=True)["val"]["loss"] for config in configs]
        if self.objectives == 1:
            return torch.tensor(losses, dtype=torch.float32, device=self.device)
        sizes = [self.size(config) for config in configs]
        return torch.tensor([losses, sizes], dtype=torch.float32, device=self.device).T.contiguous()

    def metrics(self, x: torch.Tensor, split: str) -> dict[str, float]:
        check_split(split)
        config = self.domain.decode(x)
        key = canonical_json(config)
        measured = self._measured.get(key) or self._train(config, count=False)
        if self.objectives == 1:
            return dict(measured[split])
        return measured[split] | {"parameters": float(self.parameters(config)), "size": self.size(config)}

    def _train(self, config: dict[str, Value], count: bool) -> dict[str, dict[str, float]]:
        """Train ``config`` (seeded by the run and the configuration) and measure it on every
        split; ``count``: add its cost to ``trained_samples`` (an evaluation, not a measurement)."""
        key = canonical_json(config)
        g = torch_generator(self.seed, self.name, "training", key)
        layers = _init(self._sizes(config), g, self.device)
        activation = ACTIVATIONS[str(config["activation"])]
        dropout = float(config["dropout"])
        optimizer = torch.optim.Adam([t for layer in layers for t in layer], lr=self.params.lr)
        train = self.data.train
        n = len(train.y)
        with torch.enable_grad():
            for _ in range(self.params.epochs):
                order = torch.randperm(n, generator=g).to(self.device)
                for start in range(0, n, self.params.batch_size):
                    idx = order[start : start + self.params.batch_size]
                    out = _forward(layers, train.x[idx], activation, dropout, g)
                    loss = self._loss(out, train.y[idx])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    if count:
                        self.trained_samples += 3 * len(idx)
        if count:
            self.trained_samples += len(self.data.val.y)
        with torch.no_grad():
            outputs = {split: _forward(layers, self.data.split(split).x, activation, 0.0, g) for split in SPLITS}
        measured = {split: self._scores(out, split) for split, out in outputs.items()}
        self._measured[key] = measured
        return measured

    def _sizes(self, config: dict[str, Value]) -> list[int]:
        outputs = self.data.n_classes or 1
        return [self.data.train.x.shape[1], *[int(config["neurons"])] * int(config["layers"]), outputs]

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(out, y) if self.data.n_classes == 0 else F.cross_entropy(out, y)

    def _scores(self, out: torch.Tensor, split: str) -> dict[str, float]:
        y = self.data.split(split).y
        if self.data.n_classes:
            return classification_metrics(out, y, self.data.n_classes)
        loss = float(F.mse_loss(out, y))
        return {"loss": loss if math.isfinite(loss) else math.inf}


def _init(sizes: list[int], g: torch.Generator, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """PyTorch's default ``nn.Linear`` initialisation, U(−1/√in, 1/√in), drawn from ``g``."""
    layers = []
    for inp, out in itertools.pairwise(sizes):
        bound = 1.0 / math.sqrt(inp)
        W = ((torch.rand(out, inp, generator=g) * 2 - 1) * bound).to(device).requires_grad_()
        b = ((torch.rand(out, generator=g) * 2 - 1) * bound).to(device).requires_grad_()
        layers.append((W, b))
    return layers


def _forward(
    layers: list[tuple[torch.Tensor, torch.Tensor]],
    x: torch.Tensor,
    activation: Callable[[torch.Tensor], torch.Tensor],
    dropout: float,
    g: torch.Generator,
) -> torch.Tensor:
    """The MLP's output; ``dropout`` > 0: inverted dropout after every hidden layer, masks from ``g``."""
    h = x
    for W, b in layers[:-1]:
        h = activation(F.linear(h, W, b))
        if dropout > 0:
            keep = (torch.rand(h.shape, generator=g) >= dropout).to(h.device)
            h = h * keep / (1.0 - dropout)
    W, b = layers[-1]
    return F.linear(h, W, b)
