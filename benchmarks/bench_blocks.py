"""How many blocks histogram blocking makes of ResNet-18's weights, against ``n_bins``.

For the CIFAR-10 ResNet-18 (the ``cifar10-resnet18`` problem's network) at each ``--widths``
(default 1, 11,173,962 weights, and 1/8), at its initial weights as the problem builds them for
``--seed`` (PyTorch's default initialisation from the seeded ``initial-point`` stream; no data
needed), prints for each ``--bins`` the number of non-empty bins (the blocks, the search
dimension of the ``blocks`` space), the largest block's share of the weights, how many blocks hold
one weight, and the seconds ``BlockSpace`` takes to build (best of ``--repeats``).

The HBDE paper counts ~3 K blocks from 10,000 bins on the full network *after* pre-training;
``--pretrained`` adds rows for stored pre-trained starts (the runner's cache files,
``<results>/cache/pretrain/*.pt``, e.g. those of ``suites/cifar-cpu.yaml`` at width 1/8).

Run:  .venv/bin/python benchmarks/bench_blocks.py [--widths 1 0.125] [--bins 1000 5000 10000 20000 100000]
          [--pretrained results/cifar-cpu/cache/pretrain/*.pt] [--threads 1] [--json PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
from harness import write_json
from tabulate import tabulate
from torch import nn

from dfo_bench.problems.resnet import Cifar10ResNet18, ResNet18, initialise
from dfo_bench.seeding import torch_generator
from dfo_bench.spaces import BlockSpace


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Blocks of ResNet-18's weights against n_bins.")
    parser.add_argument("--widths", type=float, nargs="+", default=[1.0, 0.125], help="channel multipliers (default 1 0.125)")
    parser.add_argument("--bins", type=int, nargs="+", default=[1_000, 5_000, 10_000, 20_000, 100_000])
    parser.add_argument("--seed", type=int, default=0, help="the run seed whose initial weights are blocked (default 0)")
    parser.add_argument("--pretrained", type=Path, nargs="*", default=[], help="pre-trained starts cached by the runner (.pt)")
    parser.add_argument("--repeats", type=int, default=1, help="timed builds per row, best kept (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args()


def initial_weights(width: float, seed: int) -> torch.Tensor:
    """The flat initial weights of ``cifar10-resnet18`` at ``width`` for run seed ``seed``, built as the problem builds them."""
    with torch.device("meta"):
        net = ResNet18(10, width)
    net = net.to_empty(device="cpu")
    initialise(net, torch_generator(seed, Cifar10ResNet18.name, "initial-point"))
    return nn.utils.parameters_to_vector(net.parameters()).detach()


def count(weights: torch.Tensor, n_bins: int, repeats: int) -> dict[str, Any]:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        space = BlockSpace(weights, n_bins)
        seconds.append(time.perf_counter() - start)
    counts = space.counts
    return {
        "n_bins": n_bins,
        "blocks": space.dim,
        "largest block": f"{float(counts.max()) / weights.numel():.2%}",
        "one-weight blocks": int((counts == 1).sum()),
        "build s": round(min(seconds), 3),
    }


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    starts: list[tuple[str, torch.Tensor]] = [
        (f"width {w:g}, initial (seed {args.seed})", initial_weights(w, args.seed)) for w in args.widths
    ]
    for path in args.pretrained:
        starts.append((f"pre-trained {path.name}", torch.load(path, weights_only=True, map_location="cpu")["weights"]))
    rows = []
    for what, weights in starts:
        for n_bins in args.bins:
            row = {"weights": what, "size": weights.numel(), **count(weights, n_bins, args.repeats)}
            rows.append(row)
            print(tabulate([row.values()], tablefmt="plain"), flush=True)
    print()
    print(tabulate(rows, headers="keys", tablefmt="github", intfmt=",", floatfmt=".3f"))
    if args.json:
        write_json(args.json, {"threads": args.threads, "rows": rows})


if __name__ == "__main__":
    main()
