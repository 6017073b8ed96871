"""Hybrid starts: gradient pre-training computed once per (problem, seed) and cached on disk.

Every optimizer of a suite that asks for the same pre-training starts from exactly the same
weights: the first run to need them trains them on a fresh instance of the problem (so the
run's own data streams are untouched) and stores them atomically under a lock; the others
wait for the file and load it. Pre-training is charged to its own budget, recorded apart from
the fine-tuning budget.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock

import dfo_bench
from dfo_bench.atomic import write_atomically
from dfo_bench.budget import Budget, BudgetLimits, Usage
from dfo_bench.errors import BudgetExceeded
from dfo_bench.optimizers.base import GradientOptimizer
from dfo_bench.problems.base import Problem
from dfo_bench.registry import optimizers
from dfo_bench.seeding import derive_seed


def pretrain(problem: Problem, config: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor], Usage]:
    """Train ``problem``'s seeded initial weights with a gradient optimizer for ``epochs`` epochs.

    The budget is 3 forward-equivalent samples per training sample per epoch, so the step count
    is epochs × training samples / batch size whatever the optimizer's batch size.
    """
    cls = optimizers.get(config["optimizer"])
    rng = np.random.default_rng(derive_seed(problem.seed, "pretrain", problem.name, config["optimizer"]))
    optimizer = cls.from_config(problem.initial_point(), rng, config["params"])
    if not isinstance(optimizer, GradientOptimizer):
        raise TypeError(f"pre-training needs a gradient optimizer, not {config['optimizer']}")
    budget = Budget(BudgetLimits(samples=round(3 * config["epochs"] * problem.train_size)))
    problem.attach(budget)
    budget.start()
    with suppress(BudgetExceeded):
        while True:
            optimizer.step(problem.loss_and_grad)
    budget.stop()
    return optimizer.recommend(), problem.state(), budget.usage


def cache_path(cache_dir: Path, problem: Problem, config: dict[str, Any]) -> Path:
    """Where the pre-trained weights of this problem configuration, seed and device type live."""
    key = {
        "problem": problem.name,
        "params": problem.params.model_dump(mode="json"),
        "seed": problem.seed,
        "device": problem.device.type,
        "pretrain": config,
        "version": dfo_bench.__version__,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir / "pretrain" / f"{problem.name}__seed{problem.seed}__{digest}.pt"


@dataclass(frozen=True)
class PretrainedStart:
    weights: torch.Tensor
    state: dict[str, torch.Tensor]
    """The problem's state after pre-training (e.g. BatchNorm running statistics)."""
    usage: Usage
    cached: bool
    """Loaded from the cache rather than computed by this run."""


def pretrained_start(make_problem: Callable[[], Problem], config: dict[str, Any], cache_dir: Path | None) -> PretrainedStart:
    """The pre-trained start for a fresh problem from ``make_problem()``; without ``cache_dir``
    it is computed and not stored."""
    problem = make_problem()
    if cache_dir is None:
        return PretrainedStart(*pretrain(problem, config), cached=False)
    path = cache_path(cache_dir, problem, config)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path.with_name(path.name + ".lock")):
        if path.exists():
            stored = torch.load(path, weights_only=True)
            return PretrainedStart(stored["weights"], stored["state"], Usage(**stored["usage"]), cached=True)
        weights, state, usage = pretrain(problem, config)
        stored = {"weights": weights, "state": state, "usage": asdict(usage)}
        write_atomically(path, lambda tmp: torch.save(stored, tmp))
    return PretrainedStart(weights, state, usage, cached=False)
