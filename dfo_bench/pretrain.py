"""Hybrid starts: gradient pre-training computed once per (problem, seed) and cached on disk.

Every optimizer of a suite that asks for the same pre-training starts from exactly the same
weights: the first run to need them trains them on a fresh instance of the problem (so the
run's own data streams are untouched) and stores them atomically under a lock; the others
wait for the file and load it. Pre-training runs through the same objective and loop as every
run, charged to its own budget, recorded apart from the fine-tuning budget. The cache key
follows the run-id rule: names, versions, non-default parameters and data fingerprints.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

from dfo_bench.atomic import write_atomically
from dfo_bench.budget import Budget, BudgetLimits, Usage
from dfo_bench.hashing import digest
from dfo_bench.loop import optimize
from dfo_bench.objective import Objective
from dfo_bench.optimizers.base import Optimizer, SearchDomain
from dfo_bench.problems.base import Problem
from dfo_bench.registry import optimizers
from dfo_bench.seeding import derive_seed
from dfo_bench.spaces import FullSpace
from dfo_bench.spec import PretrainSpec, ProblemSpec


def pretraining(problem: Problem, config: PretrainSpec) -> tuple[Objective, Optimizer]:
    """The objective and the gradient optimizer that pre-train ``problem``'s seeded initial weights
    for ``epochs`` epochs.

    The budget is 3 forward-equivalent samples per training sample per epoch, so the step count
    is epochs × training samples / batch size whatever the optimizer's batch size.
    """
    if problem.train_size is None:
        raise ValueError(f"{problem.name} has no training set to pre-train on")
    name = config.optimizer.name
    rng = np.random.default_rng(derive_seed(problem.seed, "pretrain", problem.name, name))
    x0 = problem.initial_point()
    optimizer = optimizers.get(name).from_config(SearchDomain(x0), rng, config.optimizer.params)
    budget = Budget(BudgetLimits(samples=round(3 * config.epochs * problem.train_size)))
    return Objective(problem, FullSpace(x0), budget, super_batch=None), optimizer  # gradient steps: no evaluation batches


def pretrain(problem: Problem, config: PretrainSpec) -> tuple[torch.Tensor, dict[str, torch.Tensor], Usage]:
    """``problem``'s weights after its pre-training (``pretraining``), its state, and what it spent."""
    objective, optimizer = pretraining(problem, config)
    optimize(objective, optimizer)
    return optimizer.recommend(), problem.state(), objective.budget.usage


def cache_path(cache_dir: Path, spec: ProblemSpec, seed: int, device: torch.device) -> Path:
    """Where the pre-trained weights of this problem configuration, seed and device type live."""
    assert spec.pretrain is not None
    key = {"problem": spec.identity(), "seed": seed, "device": device.type}
    return cache_dir / "pretrain" / f"{spec.name}__seed{seed}__{digest(key)}.pt"


@dataclass(frozen=True)
class PretrainedStart:
    weights: torch.Tensor
    state: dict[str, torch.Tensor]
    """The problem's state after pre-training (e.g. BatchNorm running statistics)."""
    usage: Usage
    cached: bool
    """Loaded from the cache rather than computed by this run."""


def pretrained_start(
    make_problem: Callable[[], Problem], spec: ProblemSpec, seed: int, cache_dir: Path | None
) -> PretrainedStart:
    """The pre-trained start of ``spec`` for a fresh problem from ``make_problem()``, on its device;
    without ``cache_dir`` it is computed and not stored."""
    assert spec.pretrain is not None
    with closing(make_problem()) as problem:  # released as the run's own problem is (Problem.close)
        if cache_dir is None:
            return PretrainedStart(*pretrain(problem, spec.pretrain), cached=False)
        path = cache_path(cache_dir, spec, seed, problem.device)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(path.with_name(path.name + ".lock")):
            if path.exists():
                stored = torch.load(path, weights_only=True, map_location=problem.device)
                return PretrainedStart(stored["weights"], stored["state"], Usage(**stored["usage"]), cached=True)
            weights, state, usage = pretrain(problem, spec.pretrain)
            stored = {"weights": weights, "state": state, "usage": asdict(usage)}
            write_atomically(path, lambda tmp: torch.save(stored, tmp))
    return PretrainedStart(weights, state, usage, cached=False)
