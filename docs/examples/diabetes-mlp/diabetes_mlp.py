"""A one-hidden-layer MLP regressing disease progression on scikit-learn's diabetes data (442
patients, 10 features; Efron et al. 2004, "Least angle regression"), as a dfo-bench problem.

The loss is the mean squared error on standardised targets; the report shows, on validation and
test, the coefficient of determination R² (the primary metric) and the MSE in the target's own
units. The data ships with scikit-learn, so nothing is downloaded.
"""

from __future__ import annotations

import math

import torch
from pydantic import Field
from sklearn.datasets import load_diabetes

from dfo_bench.params import ParamsModel
from dfo_bench.problems.base import SPLITS, Problem
from dfo_bench.problems.metrics import Metric

R2 = Metric("r2", "R²", higher_is_better=True, bounds=(-math.inf, 1.0))
MSE = Metric("mse", "MSE", higher_is_better=False, spec=".4g", bounds=(0.0, math.inf), log=True)


class DiabetesParams(ParamsModel):
    hidden: int = Field(16, ge=1, le=1024, description="hidden units")
    n_val: int = Field(71, ge=10, description="validation patients")
    n_test: int = Field(71, ge=10, description="test patients; the rest (300 by default) train")


class DiabetesMLP(Problem):
    name = "diabetes-mlp"
    description = "10-16-1 tanh MLP regression on scikit-learn's diabetes data (docs example plugin)"
    Params = DiabetesParams
    params: DiabetesParams
    reported_metrics = (R2, MSE)  # the first is primary: ranked on, its validation values are the default targets

    def __init__(self, params: DiabetesParams, seed: int, device: torch.device) -> None:
        super().__init__(params, seed, device)
        features, target = load_diabetes(return_X_y=True)
        x = torch.tensor(features, dtype=torch.float32)
        y = torch.tensor(target, dtype=torch.float32)
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))  # the split moves with the seed
        n_train = len(y) - params.n_val - params.n_test
        if n_train < 10:
            raise ValueError(f"n_val + n_test leave {n_train} training patients of {len(y)}; allowed: at least 10")
        parts = dict(zip(SPLITS, order.split([n_train, params.n_val, params.n_test]), strict=True))
        train = parts["train"]
        self.x_mean, self.x_std = x[train].mean(0), x[train].std(0)
        self.y_mean, self.y_std = y[train].mean(), y[train].std()
        self.x = {s: ((x[i] - self.x_mean) / self.x_std).to(device) for s, i in parts.items()}
        self.y = {s: ((y[i] - self.y_mean) / self.y_std).to(device) for s, i in parts.items()}
        self.shapes = [(10, params.hidden), (params.hidden,), (params.hidden,), (1,)]

    @property
    def dim(self) -> int:
        return sum(math.prod(shape) for shape in self.shapes)

    @property
    def train_size(self) -> int:
        return len(self.y["train"])

    def initial_point(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed)
        w1 = torch.randn(10, self.params.hidden, generator=g) / math.sqrt(10)
        w2 = torch.randn(self.params.hidden, generator=g) / math.sqrt(self.params.hidden)
        b1, b2 = torch.zeros(self.params.hidden), torch.zeros(1)
        return torch.cat([w1.flatten(), b1, w2, b2]).to(self.device)

    def predict(self, X: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Predictions (P, n) of a population X (P, dim) on inputs x (n, 10), standardised."""
        w1, b1, w2, b2 = X.split([math.prod(shape) for shape in self.shapes], dim=1)
        hidden = torch.tanh(torch.einsum("nd,pdh->pnh", x, w1.reshape(-1, 10, self.params.hidden)) + b1[:, None, :])
        return torch.einsum("pnh,ph->pn", hidden, w2) + b2

    def _evaluate(self, X: torch.Tensor, batch: torch.Tensor | None) -> torch.Tensor:
        x, y = self.x["train"], self.y["train"]
        if batch is not None:
            x, y = x[batch], y[batch]
        return ((self.predict(X, x) - y) ** 2).mean(dim=1)

    def metrics(self, x: torch.Tensor, split: str) -> dict[str, float]:
        if split not in SPLITS:
            raise ValueError(f"unknown split '{split}'; allowed: {', '.join(SPLITS)}")
        with torch.no_grad():
            error = self.predict(x.unsqueeze(0), self.x[split])[0] - self.y[split]
        loss = float((error**2).mean())
        y = self.y[split]
        return {
            "loss": loss,
            "mse": loss * float(self.y_std) ** 2,  # in the target's units (disease progression, squared)
            "r2": 1.0 - float((error**2).sum()) / float(((y - y.mean()) ** 2).sum()),
        }
