"""Population evaluation of the 784-32-10 MNIST MLP: throughput, roofline ratio, speed-up.

Measures, in one run on the CPU with a fixed number of threads (default 2):

* evaluations per second of ``PopulationMLP.losses`` (what ``Problem.evaluate`` calls) for a
  population of P candidates (default 64) on the 5,000 training images;
* the machine's fp32 matmul rate, from a large square GEMM (default 4096×4096), and the roofline
  ratio (useful FLOP rate of the population evaluation) / (matmul rate), where one evaluation's
  useful FLOPs are 2·n·(784·32 + 32·10) with n = 5,000 samples;
* a per-individual baseline: each candidate copied into an ``nn.Sequential`` MLP with
  ``vector_to_parameters``, then forward + cross-entropy on the 5,000 images under ``no_grad``;
  and the speed-up of the population path over it;
* the largest absolute difference between the two paths' losses (a wrong computation cannot pass).

After warm-up rounds, the GEMM, the population path and the baseline are timed round-robin
(GEMM, population, baseline, GEMM, ...) so machine load affects them alike. Figures use the
BEST repeat of each (the median is printed beside it).

Targets (printed, never asserted): roofline ratio >= 0.85; speed-up >= 1.5.

Run:  .venv/bin/python benchmarks/bench_population.py [--threads 2] [--population 64] [--json PATH]

Without MNIST IDX files in --data-root (default /work/shared/data/mnist) it times random data of
the same shape instead, and says so.
"""

from __future__ import annotations

import argparse
from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F
from harness import Workload, add_common_arguments, load_workload, write_json
from tabulate import tabulate
from timing import gemm_probe, interleaved
from torch import nn
from torch.nn.utils import vector_to_parameters

from dfo_bench.problems.mlp import PopulationMLP

ROOFLINE_TARGET = 0.85
SPEEDUP_TARGET = 1.5
LOSS_TOLERANCE = 1e-4
"""Largest acceptable |population loss − per-individual loss| (fp32 sums in different orders)."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Population evaluation throughput of the 784-32-10 MNIST MLP.")
    parser.add_argument("--population", "-P", type=int, default=64, help="candidates per evaluation (default 64)")
    parser.add_argument("--repeats", type=int, default=7, help="timed round-robin rounds (default 7)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first (default 2)")
    parser.add_argument("--gemm-size", type=int, default=4096, help="side of the GEMM probe (default 4096)")
    add_common_arguments(parser)
    return parser.parse_args()


def sequential_mlp(sizes: list[int]) -> nn.Sequential:
    """The ``nn.Sequential`` whose ``parameters_to_vector`` layout is PopulationMLP's candidate layout."""
    layers: list[nn.Module] = []
    for inp, out in pairwise(sizes):
        layers += [nn.Linear(inp, out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def per_individual_losses(model: nn.Sequential, X: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of each row of X, one candidate at a time through ``model``."""
    losses = torch.empty(X.shape[0])
    for i, candidate in enumerate(X):
        vector_to_parameters(candidate, model.parameters())
        losses[i] = F.cross_entropy(model(x), y)
    return losses


def population_around(x0: torch.Tensor, population: int, sigma: float = 0.02) -> torch.Tensor:
    """P candidates x0 + sigma·N(0, I), as an optimizer would ask for them."""
    noise = torch.randn(population, x0.numel(), generator=torch.Generator().manual_seed(0))
    return x0 + sigma * noise


def useful_flops(net: PopulationMLP, samples: int) -> int:
    """Multiply-adds of the layers' weights on every sample, counted as 2 FLOPs each."""
    return 2 * samples * sum(out * inp for out, inp in net.shapes)


def measure(workload: Workload, args: argparse.Namespace) -> dict[str, Any]:
    problem = workload.problem
    net, x, y = problem.net, problem.data.train.x, problem.data.train.y
    xt = x.t().contiguous()
    X = population_around(problem.initial_point(), args.population)
    model = sequential_mlp(net.sizes)
    gemm, gemm_flops = gemm_probe(args.gemm_size)
    with torch.no_grad():
        max_diff = float((net.losses(X, xt, y) - per_individual_losses(model, X, x, y)).abs().max())
        timings = interleaved(
            {
                "gemm": gemm,
                "population": lambda: net.losses(X, xt, y),
                "per_individual": lambda: per_individual_losses(model, X, x, y),
            },
            args.repeats,
            args.warmup,
        )
    flops = args.population * useful_flops(net, x.shape[0])
    gemm_rate, population_rate = gemm_flops / timings["gemm"].best, flops / timings["population"].best
    return {
        "data": workload.source,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "population": args.population,
        "samples": x.shape[0],
        "sizes": net.sizes,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "statistic": "best of the round-robin repeats",
        "useful_flops_per_evaluation": flops // args.population,
        "gemm_size": args.gemm_size,
        "seconds": {name: t.as_dict() for name, t in timings.items()},
        "gemm_gflops": gemm_rate / 1e9,
        "population_gflops": population_rate / 1e9,
        "population_evals_per_s": args.population / timings["population"].best,
        "per_individual_evals_per_s": args.population / timings["per_individual"].best,
        "roofline_ratio": population_rate / gemm_rate,
        "speedup": timings["per_individual"].best / timings["population"].best,
        "max_abs_loss_diff": max_diff,
        "losses_agree": max_diff <= LOSS_TOLERANCE,
    }


def report(figures: dict[str, Any]) -> None:
    P, seconds, flops, n = figures["population"], figures["seconds"], figures["useful_flops_per_evaluation"], figures["gemm_size"]
    print(f"population evaluation, MLP {'-'.join(map(str, figures['sizes']))}, {figures['samples']:,} samples, P = {P}")
    print(f"data: {figures['data']}")
    print(
        f"torch {figures['torch']}, {figures['threads']} threads; {figures['repeats']} round-robin repeats after "
        f"{figures['warmup']} warm-up rounds; figures from the BEST repeat"
    )
    rows = [
        [f"GEMM {n}x{n} fp32 (probe)", *_ms(seconds["gemm"]), "", f"{figures['gemm_gflops']:.1f}"],
        [
            "PopulationMLP.losses",
            *_ms(seconds["population"]),
            f"{figures['population_evals_per_s']:.0f}",
            f"{figures['population_gflops']:.1f}",
        ],
        [
            "per-individual nn.Sequential",
            *_ms(seconds["per_individual"]),
            f"{figures['per_individual_evals_per_s']:.0f}",
            f"{P * flops / seconds['per_individual']['best'] / 1e9:.1f}",
        ],
    ]
    headers = ["path (one call)", "best ms", "median ms", "evals/s", "useful GFLOP/s"]
    print(tabulate(rows, headers=headers, colalign=("left", "right", "right", "right", "right")))
    print(f"useful FLOPs per evaluation: {flops:,} (2·n·Σ out·in)")
    agree = figures["losses_agree"]
    print(
        f"losses {'agree' if agree else 'DISAGREE'}: max |population - per-individual| = "
        f"{figures['max_abs_loss_diff']:.2e} (tolerance {LOSS_TOLERANCE:.0e})"
    )
    ratio, speedup = figures["roofline_ratio"], figures["speedup"]
    print(f"roofline ratio: {ratio:.2f} (target >= {ROOFLINE_TARGET}){_verdict(ratio >= ROOFLINE_TARGET, agree)}")
    print(f"speed-up over per-individual: {speedup:.2f}x (target >= {SPEEDUP_TARGET}){_verdict(speedup >= SPEEDUP_TARGET, agree)}")


def _ms(seconds: dict[str, float]) -> tuple[str, str]:
    return f"{seconds['best'] * 1e3:.1f}", f"{seconds['median'] * 1e3:.1f}"


def _verdict(met: bool, losses_agree: bool) -> str:
    if not losses_agree:
        return ": NOT met (the losses disagree)"
    return ": met" if met else ": NOT met"


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    figures = measure(load_workload(args.data_root), args)
    report(figures)
    if args.json:
        write_json(args.json, figures)


if __name__ == "__main__":
    main()
