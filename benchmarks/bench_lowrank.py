"""Low-rank (EGGROLL) populations of the 784-32-10 MNIST MLP against dense ones, and of a ResNet.

Measures, in one run on the CPU with a fixed number of threads (default 2):

* evaluations/s of ``Problem.evaluate`` on a rank-1 ``LowRankPopulation`` (on the CPU through
  ``mlp_low_rank_kernel``: one GEMM for the centre's first layer and the draws' projections,
  the rest per member in the compiled kernel) and on the same members as a dense (P, D) matrix,
  at P = 64, 256 and 1,024, timed round-robin; the ratio low-rank / dense;
* the same low-rank computation with the per-member part (bias, correction, ReLU, output layer,
  cross-entropy) in one ``torch.compile``d function over chunks of 1,000 samples, written as a
  reduction so that Inductor keeps a chunk's hidden activations in registers (compile seconds
  printed); a benchmark-only path, the ratio beside the eager one;
* the largest |low-rank − dense| loss over all members;
* ``eggroll`` ask + tell seconds as a fraction of the evaluation's, in generations stepped as the
  runner steps it (``generations``), beside ask, the evaluation and tell in µs and ms;
* peak memory of one evaluation at the largest P, low-rank and dense, beside P × D floats: the
  child process's resident memory sampled every 0.2 ms during the evaluation, above its value
  before (each configuration in a fresh spawned process, glibc told to return large blocks at
  once with a fixed ``MALLOC_MMAP_THRESHOLD_``, so freed setup memory does not hide new blocks);
* the ResNet-18 at width 1/4 (CIFAR-10, a super-batch of 100 images, P = 8): the low-rank
  population through the dense fallback (its members built as they are evaluated) against the
  dense matrix, seconds and peak memory.

With ``--device cuda`` the same populations are timed on the GPU (each call followed by a
synchronisation), the fused variant and the ResNet are left out (CPU measurements), and memory is
CUDA's peak allocation of one evaluation (``torch.cuda.max_memory_allocated``) instead of RSS.

Targets (printed, never asserted): low-rank >= 10x dense at P = 64, >= 20x at P = 1,024;
ask + tell <= 0.1 of an evaluation.

Run:  flock /work/heavy.lock .venv/bin/python benchmarks/bench_lowrank.py [--threads 2] [--json PATH]
      benchmarks/bench_lowrank.py --device cuda --populations 64 256 1024 4096   (benchmarks/gpu.sh)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import threading
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from harness import add_common_arguments, load_workload, unlimited_objective, write_json
from tabulate import tabulate
from timing import interleaved

from dfo_bench.lowrank import LowRankPopulation
from dfo_bench.objective import Objective
from dfo_bench.optimizers.base import SearchDomain
from dfo_bench.optimizers.eggroll import Eggroll, EggrollParams
from dfo_bench.problems.mlp import LowRankLayers, MLPClassification

TARGETS = {64: 10.0, 1024: 20.0}
ASK_TELL_TARGET = 0.1
SIGMA = 0.02
FUSED_CHUNK = 1000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Low-rank vs dense population evaluation (EGGROLL).")
    parser.add_argument("--populations", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--repeats", type=int, default=5, help="timed round-robin rounds (default 5)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    parser.add_argument("--no-resnet", action="store_true", help="skip the ResNet measurement")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda: where the problem and populations live")
    add_common_arguments(parser)
    return parser.parse_args()


def population(problem: MLPClassification, size: int, seed: int = 0) -> LowRankPopulation:
    generator = torch.Generator(problem.device).manual_seed(seed)
    return LowRankPopulation.sample(problem.initial_point(), problem.layout, 1, SIGMA, size // 2, True, generator)


def _fused_chunk(S, b, A, C, W2, b2, y):  # type: ignore[no-untyped-def]
    """One chunk's summed cross-entropy per member of a one-hidden-layer net (P, h, n activations
    never leave the fused kernel: the output layer is a reduction over h, not a bmm)."""
    h = torch.relu(S.unsqueeze(0) + b + A * C)
    logits = (W2.unsqueeze(3) * h.unsqueeze(1)).sum(2) + b2
    return F.cross_entropy(logits, y.expand(h.shape[0], -1), reduction="none").sum(1)


def fused_losses(problem: MLPClassification, pop: LowRankPopulation, compiled: Any) -> torch.Tensor:
    """The low-rank losses through the compiled per-member part (rank 1, one hidden layer)."""
    xt, y = problem._xt["train"], problem.data.train.y
    layers: LowRankLayers = problem.net.low_rank_layers(pop)
    (W2, b2), P, n = layers.later[0], len(pop), xt.shape[1]
    S, C = layers.W @ xt, (layers.Bt @ xt).view(-1, 1, n)[layers.member_draw]
    total = torch.zeros(P)
    for s in range(0, n, FUSED_CHUNK):
        total += compiled(
            S[:, s : s + FUSED_CHUNK], layers.b, layers.A, C[:, :, s : s + FUSED_CHUNK], W2, b2, y[s : s + FUSED_CHUNK]
        )
    return total / n


def generations(problem: MLPClassification, P: int, device: torch.device, count: int = 12) -> dict[str, float]:
    """``eggroll`` (popsize P) stepped on the problem as the runner steps it (ask, the objective's
    evaluation with its budget and records, tell), medians over ``count`` generations (after two
    untimed): ask and tell in µs, the evaluation in ms, and ask + tell seconds over the evaluation's
    seconds. Measured in the loop, not back to back: an evaluation pushes the optimizer's code and
    data out of the caches, which doubles what ask and tell cost on their own. All three move
    between processes on a shared machine, the evaluation as much as ask and tell."""
    objective = unlimited_objective(problem, Objective)
    search = SearchDomain(problem.initial_point(), layout=problem.layout)
    eggroll = Eggroll(search, np.random.default_rng(0), EggrollParams(popsize=P))
    asks, evaluations, tells, ratios = [], [], [], []
    for generation in range(count + 2):
        started = time.perf_counter()
        X = eggroll.ask()
        asked = _synchronised_now(device)
        losses = objective.evaluate(X)
        evaluated = _synchronised_now(device)
        eggroll.tell(X, losses)
        told = _synchronised_now(device)
        if generation >= 2:
            asks.append(asked - started)
            evaluations.append(evaluated - asked)
            tells.append(told - evaluated)
            ratios.append((asked - started + told - evaluated) / (evaluated - asked))
    median = statistics.median
    return {
        "ask µs": round(median(asks) * 1e6),
        "evaluation ms": round(median(evaluations) * 1e3, 2),
        "tell µs": round(median(tells) * 1e6),
        "ask+tell / evaluation": round(median(ratios), 3),
    }


def _synchronised_now(device: torch.device) -> float:
    """``time.perf_counter()`` once the device's queued work is done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def resident() -> int:
    """Bytes of this process's resident memory now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakSampler(threading.Thread):
    """Samples ``resident()`` until stopped; ``peak`` is the largest sample."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self._done = resident(), threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.0002):
            self.peak = max(self.peak, resident())

    def stop(self) -> int:
        self._done.set()
        self.join()
        return max(self.peak, resident())


def peak_rss(config: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process: one evaluation of ``config``; peak resident memory above the state before it."""
    torch.set_num_threads(config["threads"])
    if config["problem"] == "mnist":
        problem: Any = load_workload(config["root"]).problem
        pop = population(problem, config["population"])
    else:
        from dfo_bench.registry import problems

        params = {"n_train": 500, "n_val": 100, "n_test": 100, "width": 0.25, "super_batch": 100}
        problem = problems.get("cifar10-resnet18").from_config(params, 0, torch.device("cpu"))
        generator = torch.Generator().manual_seed(0)
        pop = LowRankPopulation.sample(
            problem.initial_point(), problem.layout, 1, SIGMA, config["population"] // 2, True, generator
        )
    batch = None if config["problem"] == "mnist" else torch.arange(100)
    problem.evaluate(pop[:2], batch)  # caches, thread pools
    before = resident()
    sampler = PeakSampler()
    sampler.start()
    start = time.perf_counter()
    losses = problem.evaluate(pop if config["path"] == "low-rank" else pop.dense(), batch)
    seconds = time.perf_counter() - start
    peak = sampler.stop()
    return {"peak_bytes": peak - before, "seconds": seconds, "dim": problem.dim, "loss0": float(losses[0])}


def synchronised(fn: Any, device: torch.device) -> Any:
    """``fn`` followed by waiting for the device's queued work (CUDA runs asynchronously)."""
    if device.type != "cuda":
        return fn

    def call() -> Any:
        out = fn()
        torch.cuda.synchronize(device)
        return out

    return call


def cuda_peak(problem: MLPClassification, X: Any) -> int:
    """Bytes CUDA allocated at the peak of one evaluation of X, above what was allocated before it."""
    torch.cuda.synchronize(problem.device)
    torch.cuda.reset_peak_memory_stats(problem.device)
    before = torch.cuda.memory_allocated(problem.device)
    problem.evaluate(X)
    torch.cuda.synchronize(problem.device)
    return torch.cuda.max_memory_allocated(problem.device) - before


def in_child(config: dict[str, Any]) -> dict[str, Any]:
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(peak_rss, (config,))


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    workload = load_workload(args.data_root, device=device)
    problem = workload.problem
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {args.threads} threads"
    print(f"data: {workload.source}; device: {name}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    compiled, compile_seconds = None, None
    if not args.no_compile and device.type == "cpu":
        compiled = torch.compile(_fused_chunk, dynamic=False)
        start = time.perf_counter()
        fused_losses(problem, population(problem, args.populations[0]), compiled)
        compile_seconds = time.perf_counter() - start
        print(f"torch.compile of the fused per-member part: {compile_seconds:.1f} s (first shape)")
    rows, figures, worst = [], {"populations": {}}, 0.0
    for P in args.populations:
        pop = population(problem, P)
        X = pop.dense()
        fns = {"dense": lambda X=X: problem.evaluate(X), "low-rank": lambda pop=pop: problem.evaluate(pop)}
        if compiled is not None:
            fns["fused"] = lambda pop=pop: fused_losses(problem, pop, compiled)
        fns = {key: synchronised(fn, device) for key, fn in fns.items()}
        times = interleaved(fns, args.repeats, warmup=1)
        dense = problem.evaluate(X)
        diffs = {"low-rank": float((problem.evaluate(pop) - dense).abs().max())}
        if compiled is not None:
            diffs["fused"] = float((fused_losses(problem, pop, compiled) - dense).abs().max())
        worst = max(worst, *diffs.values())
        rate = {name: P / t.best for name, t in times.items()}
        row = {
            "P": P,
            "dense evals/s": round(rate["dense"]),
            "low-rank evals/s": round(rate["low-rank"]),
            "low-rank / dense": round(rate["low-rank"] / rate["dense"], 2),
            **generations(problem, P, device),
        }
        if compiled is not None:
            row |= {"fused evals/s": round(rate["fused"]), "fused / dense": round(rate["fused"] / rate["dense"], 2)}
        rows.append(row)
        figures["populations"][P] = row | {"timings": {k: t.as_dict() for k, t in times.items()}, "max_loss_difference": diffs}
        print(row, flush=True)
    print(tabulate(rows, headers="keys"))
    print(f"largest |low-rank - dense| loss: {worst:.2e}")
    for P, target in TARGETS.items():
        if P in figures["populations"]:
            got = figures["populations"][P]["low-rank / dense"]
            print(f"target low-rank >= {target:g}x dense at P = {P}: {'met' if got >= target else 'MISSED'} ({got}x)")
    slowest = max(row["ask+tell / evaluation"] for row in rows)
    print(
        f"target ask + tell <= {ASK_TELL_TARGET:g} of an evaluation: {'met' if slowest <= ASK_TELL_TARGET else 'MISSED'} (at most {slowest})"
    )
    largest = max(args.populations)
    if device.type == "cuda":
        pop = population(problem, largest)
        cuda = {"low-rank": cuda_peak(problem, pop), "dense": cuda_peak(problem, pop.dense())}
        print(
            f"peak CUDA allocation of one evaluation at P = {largest}: low-rank {cuda['low-rank'] / 2**20:.1f} MiB, "
            f"dense {cuda['dense'] / 2**20:.1f} MiB (P x D floats: {largest * problem.dim * 4 / 2**20:.1f} MiB)"
        )
        figures |= {"cuda_peak_bytes": cuda, "max_loss_difference": worst, "device": name}
        if args.json:
            write_json(args.json, figures)
        return
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "131072"  # read by the spawned children's glibc
    common = {"threads": args.threads, "root": str(args.data_root)}
    memory = {
        path: in_child(common | {"problem": "mnist", "path": path, "population": largest}) for path in ("low-rank", "dense")
    }
    pd_bytes = largest * problem.dim * 4
    print(
        f"peak RSS of one evaluation at P = {largest}: low-rank {memory['low-rank']['peak_bytes'] / 2**20:.1f} MiB, "
        f"dense {memory['dense']['peak_bytes'] / 2**20:.1f} MiB (P x D floats: {pd_bytes / 2**20:.1f} MiB)"
    )
    figures |= {"memory": memory, "p_times_d_bytes": pd_bytes, "max_loss_difference": worst, "compile_seconds": compile_seconds}
    if not args.no_resnet and os.environ.get("DFO_BENCH_DATA"):
        resnet = {path: in_child(common | {"problem": "resnet", "path": path, "population": 8}) for path in ("low-rank", "dense")}
        low, dense_r = resnet["low-rank"], resnet["dense"]
        print(
            f"ResNet-18 width 1/4 (D = {low['dim']:,}), P = 8, 100 images: low-rank (dense fallback) {low['seconds']:.2f} s, "
            f"dense {dense_r['seconds']:.2f} s, ratio {dense_r['seconds'] / low['seconds']:.2f}; peak RSS "
            f"{low['peak_bytes'] / 2**20:.1f} vs {dense_r['peak_bytes'] / 2**20:.1f} MiB"
        )
        figures["resnet"] = resnet
    if args.json:
        write_json(args.json, figures)


if __name__ == "__main__":
    main()
