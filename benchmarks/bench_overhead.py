"""Optimizer overhead on the 784-32-10 MNIST MLP: each optimizer's own time against evaluation time.

For every registered optimizer (built-ins and entry-point plugins alike, so new ones appear
automatically), at D = 25,450 (the MNIST MLP's initial point), on the CPU with a fixed number of
threads (default 2), each optimizer against its own ``Objective``: the full space (whatever the
optimizer's default space), the whole training set per evaluation (no super-batches), no limits:

* ask/tell optimizers, population P = 64: the mean time of one ``ask()`` + ``tell()`` per
  generation (tell gets random losses), next to the mean time of ``Objective.evaluate`` (the
  charged ``Problem.evaluate``) on that same population over the 5,000 training images, and the
  ratio overhead / evaluation. Ask, evaluate and tell are timed in generation order,
  round-robin, after warm-up generations, so machine load affects them alike. ``popsize: 64`` is
  passed where the optimizer's Params have a ``popsize`` field (CMA-ES also gets
  ``diagonal: true``: a full covariance of 25,450² is out of reach); otherwise the optimizer's
  default population is used, and printed.
* gradient optimizers: the mean time of one ``step(objective)`` on a minibatch of its default
  batch size, split into the objective's ``loss_and_grad`` (minibatch, forward + backward; timed
  by wrapping it) and the rest (the update); the ratio is update / loss_and_grad.

No target is set: the ratio says how much an optimizer's own work adds to each generation
(well below 1: evaluation dominates; near or above 1: the optimizer is the bottleneck).

Run:  .venv/bin/python benchmarks/bench_overhead.py [--threads 2] [--population 64] [--only NAME ...] [--json PATH]

Without MNIST IDX files in --data-root (default /work/shared/data/mnist) it times a random-data
problem of the same shape instead, and says so.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch
from harness import (
    Workload,
    add_common_arguments,
    load_workload,
    unlimited_objective,
    write_json,
)
from tabulate import tabulate
from timing import Timings, interleaved, time_call

from dfo_bench.objective import Objective
from dfo_bench.optimizers.base import AskTellOptimizer, GradientOptimizer, Optimizer, SearchDomain
from dfo_bench.registry import optimizers

EXTRA_PARAMS: dict[str, dict[str, Any]] = {"cma-es": {"diagonal": True}}
"""Per-optimizer settings without which D = 25,450 is out of reach."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Per-generation overhead of every registered optimizer.")
    parser.add_argument("--population", "-P", type=int, default=64, help="popsize where settable (default 64)")
    parser.add_argument("--generations", type=int, default=10, help="timed ask/tell generations (default 10)")
    parser.add_argument("--steps", type=int, default=100, help="timed gradient steps (default 100)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed generations or steps first (default 2)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="time only these optimizers (default: all registered)")
    add_common_arguments(parser)
    return parser.parse_args()


def optimizer_params(cls: type[Optimizer], population: int) -> dict[str, Any]:
    params = dict(EXTRA_PARAMS.get(cls.name, {}))
    if "popsize" in cls.Params.model_fields:
        params["popsize"] = population
    return params


class Generations:
    """Generations of an ask/tell optimizer whose ask, evaluate and tell are timed apart (what
    ``AskTellOptimizer.step`` does in one go)."""

    def __init__(self, optimizer: AskTellOptimizer, objective: Objective) -> None:
        self.optimizer = optimizer
        self.objective = objective
        self.generator = torch.Generator().manual_seed(0)
        self.X = torch.empty(0)

    def ask(self) -> None:
        self.X = self.optimizer.ask()

    def evaluate(self) -> None:
        self.objective.evaluate(self.X)

    def tell(self) -> None:
        self.optimizer.tell(self.X, torch.rand(self.X.shape[0], generator=self.generator))


def ask_tell_figures(optimizer: AskTellOptimizer, objective: Objective, args: argparse.Namespace) -> dict[str, Any]:
    generations = Generations(optimizer, objective)
    fns = {"ask": generations.ask, "evaluate": generations.evaluate, "tell": generations.tell}
    t = interleaved(fns, args.generations, args.warmup)
    overhead = t["ask"].mean + t["tell"].mean
    return {
        "kind": "ask/tell",
        "size": optimizer.popsize,
        "overhead_s": overhead,
        "evaluation_s": t["evaluate"].mean,
        "ratio": overhead / t["evaluate"].mean,
        "seconds": {name: timings.as_dict() for name, timings in t.items()},
    }


class TimedObjective(Objective):
    """An objective whose ``loss_and_grad`` (charge, minibatch, forward + backward) is timed."""

    batch_size = 0
    """The batch size of the last ``loss_and_grad``."""
    gradient_s = 0.0
    """Seconds spent in ``loss_and_grad`` since last reset."""

    def loss_and_grad(self, z: torch.Tensor, batch_size: int) -> tuple[float, torch.Tensor]:
        start = time.perf_counter()
        result = super().loss_and_grad(z, batch_size)
        self.gradient_s += time.perf_counter() - start
        self.batch_size = batch_size
        return result


class Steps:
    """Steps of a gradient optimizer, each split into the objective's loss_and_grad and the rest."""

    def __init__(self, optimizer: GradientOptimizer, objective: TimedObjective) -> None:
        self.optimizer = optimizer
        self.objective = objective

    @property
    def batch_size(self) -> int:
        return self.objective.batch_size

    def step(self) -> tuple[float, float]:
        """Seconds of one step spent in loss_and_grad, and in the rest of the step."""
        self.objective.gradient_s = 0.0
        total = time_call(lambda: self.optimizer.step(self.objective))
        return self.objective.gradient_s, total - self.objective.gradient_s


def gradient_figures(optimizer: GradientOptimizer, objective: TimedObjective, args: argparse.Namespace) -> dict[str, Any]:
    steps = Steps(optimizer, objective)
    for _ in range(args.warmup):
        steps.step()
    gradient_s, update_s = [], []
    for _ in range(args.steps):
        in_gradient, in_update = steps.step()
        gradient_s.append(in_gradient)
        update_s.append(in_update)
    gradient, update = Timings(gradient_s), Timings(update_s)
    return {
        "kind": "gradient",
        "size": steps.batch_size,
        "overhead_s": update.mean,
        "evaluation_s": gradient.mean,
        "ratio": update.mean / gradient.mean,
        "seconds": {"loss_and_grad": gradient.as_dict(), "update": update.as_dict()},
    }


def optimizer_figures(name: str, workload: Workload, args: argparse.Namespace) -> dict[str, Any]:
    """One table row; a plugin that fails to load or run gets its error instead of stopping the rest."""
    try:
        cls = optimizers.get(name)
        params = optimizer_params(cls, args.population)
        objective = unlimited_objective(workload.problem, TimedObjective)
        optimizer = cls.from_config(SearchDomain(objective.space.initial()), np.random.default_rng(0), params)
        if isinstance(optimizer, AskTellOptimizer):
            figures = ask_tell_figures(optimizer, objective, args)
        elif isinstance(optimizer, GradientOptimizer):
            figures = gradient_figures(optimizer, objective, args)
        else:
            raise TypeError(f"{type(optimizer).__name__} is neither an AskTellOptimizer nor a GradientOptimizer")
    except Exception as exc:  # reported in the table
        return {"optimizer": name, "error": f"{type(exc).__name__}: {exc}"}
    return {"optimizer": name, "params": params, **figures}


def report(workload: Workload, rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    samples = unlimited_objective(workload.problem, Objective).samples_per_evaluation
    print(f"optimizer overhead, D = {workload.problem.dim:,}, evaluation on {samples:,} samples")
    print(f"data: {workload.source}")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; means of {args.generations} generations "
        f"or {args.steps} gradient steps, after {args.warmup} warm-up ones"
    )
    table = [_table_row(row) for row in rows]
    headers = ["optimizer", "kind", "P / batch", "params", "overhead ms", "evaluation ms", "overhead / eval"]
    print(tabulate(table, headers=headers, colalign=("left", "left", "right", "left", "right", "right", "right")))
    print("ask/tell: overhead = ask + tell, evaluation = Objective.evaluate (Problem.evaluate, charged) of the population asked")
    print("gradient: overhead = step minus loss_and_grad (the update), evaluation = loss_and_grad on one minibatch")


def _table_row(row: dict[str, Any]) -> list[str]:
    if "error" in row:
        return [row["optimizer"], "FAILED", "", row["error"], "", "", ""]
    return [
        row["optimizer"],
        row["kind"],
        str(row["size"]),
        ", ".join(f"{k}={v}" for k, v in row["params"].items()) or "defaults",
        f"{row['overhead_s'] * 1e3:.2f}",
        f"{row['evaluation_s'] * 1e3:.2f}",
        f"{row['ratio']:.3f}",
    ]


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    workload = load_workload(args.data_root)
    rows = [optimizer_figures(name, workload, args) for name in args.only or optimizers.names()]
    report(workload, rows, args)
    if args.json:
        config = {"threads": torch.get_num_threads(), "torch": torch.__version__, "data": workload.source}
        write_json(args.json, {**config, "dim": workload.problem.dim, "optimizers": rows})


if __name__ == "__main__":
    main()
