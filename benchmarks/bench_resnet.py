"""ResNet-18 population throughput: one network vs populations of blocked candidates, loop vs vmap.

Measures, on the device torch picks (CUDA where present, else the CPU with ``--threads``), with
random CIFAR-shaped images (throughput does not depend on pixel values):

* images/s of one ResNet-18 forward (eval mode) over a super-batch of ``--batch`` images;
* images/s of ``Problem``-style population evaluation of P blocked candidates (P = 8 and 32 by
  default; the population unblocked with one gather on the device, as a run's ``Objective``
  maps its search points to weights, then each candidate evaluated on the same super-batch),
  per-candidate loop and ``torch.func.vmap``; the ratio population throughput / single-model
  throughput (targets: >= 0.8 on CPU, >= 0.5 on GPU);
* peak memory per population member: on CUDA ``max_memory_allocated`` above the single model's,
  divided by P; on the CPU the child process's peak RSS above the single model's, divided by P.

Each configuration runs in a fresh spawned process so peaks do not mix.

Run:  .venv/bin/python benchmarks/bench_resnet.py [--width 1] [--batch 1000] [--populations 8 32] [--threads 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from pathlib import Path
from typing import Any

import torch
from harness import write_json
from tabulate import tabulate
from torch.func import functional_call, vmap

from dfo_bench.problems.resnet import ResNet18
from dfo_bench.spaces import BlockSpace


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="ResNet-18 population throughput, loop vs vmap.")
    parser.add_argument("--width", type=float, default=1.0, help="channel multiplier (default 1: 11.2M weights)")
    parser.add_argument("--batch", type=int, default=1000, help="super-batch images (default 1000)")
    parser.add_argument("--chunk", type=int, default=250, help="images per forward pass, the problem's forward_chunk (default 250)")
    parser.add_argument("--populations", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats, best kept (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args()


def measure(config: dict[str, Any]) -> dict[str, Any]:
    """One configuration, in its own process: best seconds per evaluation and peak memory."""
    torch.set_num_threads(config["threads"])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    net = ResNet18(10, config["width"]).to(device).eval()
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    sizes = [s.numel() for s in shapes]
    x0 = torch.nn.utils.parameters_to_vector(net.parameters()).detach()
    images = torch.randn(config["batch"], 3, 32, 32, device=device)
    chunk = config["chunk"]

    def weights(x: torch.Tensor) -> dict[str, torch.Tensor]:
        return dict(zip(names, (p.view(s) for p, s in zip(x.split(sizes), shapes, strict=True)), strict=True))

    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([functional_call(net, weights(x), (images[s : s + chunk],)) for s in range(0, len(images), chunk)])

    P, mode = config["population"], config["mode"]
    if P == 1:

        def run() -> object:
            return forward(x0)

    else:
        space = BlockSpace(x0, 10_000)  # on x0's device: unblocking is one gather there
        Z = space.initial() + 0.001 * torch.randn(P, space.dim).to(device)
        if mode == "loop":

            def run() -> object:
                return [forward(x) for x in space.to_weights(Z)]

        else:
            batched = vmap(lambda x, c: functional_call(net, weights(x), (c,)), in_dims=(0, None))

            def run() -> object:
                return torch.cat([batched(space.to_weights(Z), images[s : s + chunk]) for s in range(0, len(images), chunk)], 1)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    best = float("inf")
    with torch.no_grad():
        for _ in range(config["repeats"] + 1):  # the first is warm-up
            start = time.perf_counter()
            run()
            if device.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {**config, "device": str(device), "seconds": best, "images_per_s": P * config["batch"] / best, "peak_bytes": peak, "dim": x0.numel()}


def main() -> None:
    args = parse_args()
    base = {"width": args.width, "batch": args.batch, "chunk": args.chunk, "repeats": args.repeats, "threads": args.threads}
    configs = [{**base, "population": 1, "mode": "single"}]
    configs += [{**base, "population": P, "mode": mode} for P in args.populations for mode in ("loop", "vmap")]
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        rows = [pool.apply(measure, (config,)) for config in configs]
    single = rows[0]
    table = []
    for row in rows:
        ratio = row["images_per_s"] / single["images_per_s"]
        per_member = (row["peak_bytes"] - single["peak_bytes"]) / row["population"] if row["population"] > 1 else float("nan")
        row.update(ratio=ratio, peak_per_member_bytes=per_member)
        table.append([row["mode"], row["population"], f"{row['seconds']:.2f}", f"{row['images_per_s']:,.0f}", f"{ratio:.2f}", f"{per_member / 2**20:,.0f}" if row["population"] > 1 else "—"])
    print(f"ResNet-18 width {args.width} ({single['dim']:,} weights), super-batch {args.batch}, device {single['device']}, {args.threads} threads")
    print(tabulate(table, headers=["mode", "P", "s per population", "images/s", "ratio to single", "peak MiB per member"]))
    print("ratio targets: >= 0.8 on CPU, >= 0.5 on GPU")
    if args.json:
        write_json(args.json, {"args": {**vars(args), "json": str(args.json)}, "rows": rows})


if __name__ == "__main__":
    main()
