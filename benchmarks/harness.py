"""The workload and command line shared by the benchmark scripts.

The workload is the 784-32-10 MLP (other hidden widths on request) on 5,000 MNIST training
images; where the data folder holds no MNIST files, a stand-in problem of the same shape on
uniform random images (timings do not depend on the values) runs the same code paths. ``unlimited_objective`` puts it behind an
``Objective`` as the runner does (full space, the problem's own evaluation batch), without limits.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch

from dfo_bench.budget import Budget, BudgetLimits
from dfo_bench.objective import Objective
from dfo_bench.problems.base import Problem
from dfo_bench.problems.data import ClassificationData, Split
from dfo_bench.problems.mlp import MLPClassification
from dfo_bench.problems.mnist import MNISTMLP, MNISTParams, available_sets
from dfo_bench.spaces import FullSpace

DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
"""The shared data folder beside the checkout (``../shared/data/mnist``)."""
CPU = torch.device("cpu")
ObjectiveT = TypeVar("ObjectiveT", bound=Objective)


class RandomImagesMLP(MLPClassification):
    """The MNIST problem's shapes (784 features, 10 classes, same split sizes) on random data."""

    name = "random-images-mlp"
    description = "MLP (784-32-10 by default) on uniform random 28x28 images (timing stand-in for MNIST)"

    def load_data(self) -> ClassificationData:
        generator = torch.Generator().manual_seed(self.seed)

        def split(size_field: str) -> Split:
            n = MNISTParams.model_fields[size_field].default
            return Split(torch.rand(n, 784, generator=generator), torch.randint(10, (n,), generator=generator))

        return ClassificationData(split("n_train"), split("n_val"), split("n_test"), n_classes=10)


@dataclass(frozen=True)
class Workload:
    problem: MLPClassification
    source: str
    """What data the problem holds, for the report."""


def load_workload(root: str | Path, seed: int = 0, device: torch.device = CPU, hidden: list[int] | None = None) -> Workload:
    """The MNIST problem from the IDX files in root, else its random-data stand-in, on ``device``
    (``hidden``: the MLP's hidden widths, default the problem's [32])."""
    root = Path(root)
    widths = {} if hidden is None else {"hidden": hidden}
    if "test" in available_sets(root):
        problem = MNISTMLP.from_config({"root": root, **widths}, seed=seed, device=device)
        return Workload(problem, f"MNIST IDX files in {root}")  # type: ignore[arg-type]
    source = f"RANDOM data of MNIST's shape (no MNIST IDX files in {root}; timings do not depend on values)"
    return Workload(RandomImagesMLP.from_config(widths, seed=seed, device=device), source)  # type: ignore[arg-type]


def unlimited_objective(problem: Problem, cls: type[ObjectiveT]) -> ObjectiveT:
    """An objective of class ``cls`` (``Objective`` or a subclass): ``problem`` searched in the
    full space from its initial point, each evaluation on the problem's own batch (the whole
    training set for the MLP), charged to a budget without limits."""
    own = type(problem).super_batch_of(problem.params)
    return cls(problem, FullSpace(problem.initial_point()), Budget(BudgetLimits()), own)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument(
        "--data-root", type=Path, default=DEFAULT_DATA_ROOT, help=f"MNIST IDX folder (default {DEFAULT_DATA_ROOT})"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON to PATH")


def write_json(path: Path, figures: dict[str, Any]) -> None:
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures written to {path}")
