"""Direct search on the 784-32-10 MNIST MLP: incremental vs full evaluation, and 1M trials' wall time.

``--hidden 128 128`` measures the same on the wide MLP (784-128-128-10), whose moves go through
``mlp_deep_moves_kernel`` (every layer incremental); the targets below are the 784-32-10's.

Measures, in one run on the CPU with a fixed number of threads (default 2):

* trials per second of ``Problem.evaluate`` on the pairs of ``CoordinateMoves`` that direct
  search asks (±step along one random coordinate from the current point), evaluated
  incrementally from the cached activations, and the same trials as dense (2, D) matrices
  (full forward passes), timed round-robin; their ratio (target >= 15x), and the largest
  difference between the two paths' losses (the problem's computation alone: the run's
  ``Objective`` charges each trial, which the runner run below includes);
* the wall time of ``--trials`` (default 1,000,000) direct-search trials through the real runner
  (``dfo_bench.runner.execute``), target <= 180 s for 1,000,000; with fewer trials it prints the
  linear extrapolation to 1,000,000 as well. The run's final training loss and test accuracy are printed;
* inside that run, the seconds and calls of the compiled kernel's two functions (``kernel_clock``):
  ``move_losses`` on the moves the run asks (one a trial, from trained points, flat coordinates
  skipped: not the uniform pairs at the initial point of the first measurement) and
  ``apply_move`` for each accepted move written into the cache (one due at an exact recompute is
  covered by the recompute instead); the runner's wall time over that kernel time (target <= 1.5x,
  judged on runs of 1,000,000) is what is left to Python and torch around the kernel (each
  call's timer adds about a microsecond to the runner's time, and so to its target's figure).

Run:  .venv/bin/python benchmarks/bench_direct_search.py [--trials 1000000] [--threads 2] [--json PATH]
      .venv/bin/python benchmarks/bench_direct_search.py --hidden 128 128 --trials 100000

Without MNIST IDX files in --data-root it times random data of the same shape instead (through
the harness's stand-in problem, registered for the runner under its own name), and says so.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import torch
from harness import add_common_arguments, load_workload, write_json
from timing import interleaved

from dfo_bench.budget import BudgetLimits
from dfo_bench.moves import CoordinateMoves
from dfo_bench.problems.mlp import MLPClassification
from dfo_bench.registry import problems
from dfo_bench.runner import execute
from dfo_bench.testing import run_spec

RATIO_TARGET = 15.0
SECONDS_TARGET = 180.0
RUN_RATIO_TARGET = 1.5
"""The runner's wall time over the kernel's own time in the run (the low-rank issue's target)."""
MILLION = 1_000_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Direct search on the 784-32-10 MNIST MLP: incremental vs full evaluation.")
    parser.add_argument("--trials", type=int, default=MILLION, help="trials of the runner run (default 1,000,000)")
    parser.add_argument("--pairs", type=int, default=400, help="±step pairs per timed incremental round (default 400)")
    parser.add_argument("--full-pairs", type=int, default=10, help="of them evaluated densely per round (default 10)")
    parser.add_argument("--repeats", type=int, default=5, help="timed round-robin rounds (default 5)")
    parser.add_argument("--hidden", type=int, nargs="*", default=[32], help="hidden widths of the MLP (default 32)")
    add_common_arguments(parser)
    return parser.parse_args()


def pairs(problem: MLPClassification, count: int, step: float = 0.05) -> list[CoordinateMoves]:
    """What direct search asks: ±step along random coordinates of one point."""
    x, generator = problem.initial_point(), torch.Generator().manual_seed(0)
    index = torch.randint(problem.dim, (count,), generator=generator)
    return [CoordinateMoves(x, i.repeat(2), x[i] + torch.tensor([step, -step])) for i in index]


def throughput(problem: MLPClassification, args: argparse.Namespace) -> dict[str, Any]:
    moves = pairs(problem, args.pairs)
    dense = [m.dense() for m in moves[: args.full_pairs]]
    with torch.no_grad():
        max_diff = max(float((problem.evaluate(m) - problem.evaluate(d)).abs().max()) for m, d in zip(moves, dense, strict=False))
        timings = interleaved(
            {
                "incremental": lambda: [problem.evaluate(m) for m in moves],
                "full": lambda: [problem.evaluate(d) for d in dense],
            },
            args.repeats,
            warmup=1,
        )
    incremental = 2 * len(moves) / timings["incremental"].best
    full = 2 * len(dense) / timings["full"].best
    return {
        "incremental_trials_per_s": incremental,
        "full_trials_per_s": full,
        "ratio": incremental / full,
        "max_abs_loss_diff": max_diff,
        "kernel": problem._moves_cache.kernel is not None,
        "cache": type(problem._moves_cache).__name__,
    }


KERNEL_FUNCTIONS = ("move_losses", "apply_move")


@contextmanager
def kernel_clock(kernel: ModuleType | None) -> Iterator[dict[str, float]]:
    """Seconds and calls of ``kernel``'s functions while the block runs (``<name>`` and
    ``<name>_calls``; zeros without a kernel): each call through a timer, put back after. The
    kernel modules are loaded once a process, so the runner's problem calls the same ones."""
    clock = {key: 0.0 for name in KERNEL_FUNCTIONS for key in (name, f"{name}_calls")}
    if kernel is None:
        yield clock
        return
    originals = {name: getattr(kernel, name) for name in KERNEL_FUNCTIONS}

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args)
            finally:
                clock[name] += time.perf_counter() - start
                clock[f"{name}_calls"] += 1

        return call

    for name, function in originals.items():
        setattr(kernel, name, timed(name, function))
    try:
        yield clock
    finally:
        for name, function in originals.items():
            setattr(kernel, name, function)


def runner_run(problem: MLPClassification, args: argparse.Namespace) -> dict[str, Any]:
    name, params = problem.name, problem.params.model_dump(mode="json")
    if name not in problems.names():
        problems.register(name, f"harness:{type(problem).__name__}")
    spec = run_spec("direct-search", problem=name, problem_params=params, budget=BudgetLimits(evaluations=args.trials), checkpoints=10)
    spec = spec.model_copy(update={"threads": args.threads})
    with kernel_clock(problem._moves_cache.kernel if problem._moves_cache is not None else None) as clock:
        start = time.perf_counter()
        result = execute(spec)
        seconds = time.perf_counter() - start
    if result.error:
        raise RuntimeError(f"the runner's direct-search run failed: {result.error}")
    last = result.trace[-1]
    return {
        "trials": args.trials,
        "wall_seconds": seconds,
        "search_seconds": last["seconds"],
        "seconds_per_million": seconds * MILLION / args.trials,
        "final_train_loss": last["train_loss"],
        "final_test_accuracy": last["test_accuracy"],
        "kernel": clock,
    }


def report(figures: dict[str, Any]) -> None:
    t, r = figures["throughput"], figures["runner"]
    shape = "-".join(str(w) for w in [784, *figures["hidden"], 10])
    print(f"direct search, MLP {shape}, {figures['samples']:,} training samples; {figures['threads']} threads, torch {figures['torch']}")
    print(f"data: {figures['data']}")
    print(f"incremental path: {t['cache']}, {'compiled kernel' if t['kernel'] else 'pure torch (no compiled kernel)'}")
    print(f"incremental: {t['incremental_trials_per_s']:,.0f} trials/s; full: {t['full_trials_per_s']:,.1f} trials/s (best of round-robin repeats)")
    targets = figures["hidden"] == [32]  # the targets are the 784-32-10's; other widths print figures only
    verdict = ": met" if t["ratio"] >= RATIO_TARGET and t["max_abs_loss_diff"] <= 1e-5 else ": NOT met"
    goal = f" (target >= {RATIO_TARGET:g}x){verdict}" if targets else ""
    print(f"ratio: {t['ratio']:.1f}x{goal}; max |incremental - full| = {t['max_abs_loss_diff']:.2g}")
    print(
        f"runner: {r['trials']:,} trials in {r['wall_seconds']:.1f} s wall ({r['search_seconds']:.1f} s of search); "
        f"final train loss {r['final_train_loss']:.4f}, test accuracy {r['final_test_accuracy']:.3f}"
    )
    per_million = r["seconds_per_million"]
    prefix = f"extrapolated to {MILLION:,} trials: " if r["trials"] < MILLION else ""
    goal = f" (target <= {SECONDS_TARGET:g} s){': met' if per_million <= SECONDS_TARGET else ': NOT met'}" if targets else ""
    print(f"{prefix}{per_million:.0f} s per {MILLION:,} trials{goal}")
    k = r["kernel"]
    if k["move_losses_calls"]:
        inside = k["move_losses"] + k["apply_move"]
        print(
            f"inside the run, the kernel: {k['move_losses_calls']:,.0f} move evaluations in {k['move_losses']:.1f} s "
            f"({1e6 * k['move_losses'] / k['move_losses_calls']:.0f} us each, against {1e6 / t['incremental_trials_per_s']:.0f} us "
            f"a trial above), {k['apply_move_calls']:,.0f} accepted moves applied in {k['apply_move']:.1f} s "
            f"({1e6 * k['apply_move'] / max(k['apply_move_calls'], 1):.0f} us each)"
        )
        in_run = r["wall_seconds"] / inside
        # Judged on whole runs only: a short run's setup and checkpoints weigh more than a whole run's.
        whole = targets and r["trials"] >= MILLION
        goal = f" (target <= {RUN_RATIO_TARGET:g}x){': met' if in_run <= RUN_RATIO_TARGET else ': NOT met'}" if whole else ""
        print(
            f"runner / kernel time in the run: {in_run:.2f}x{goal} "
            f"({r['wall_seconds'] - inside:.1f} s outside the kernel; {r['wall_seconds'] / k['move_losses']:.2f}x the evaluations alone)"
        )


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    workload = load_workload(args.data_root, hidden=args.hidden)
    figures = {
        "hidden": args.hidden,
        "data": workload.source,
        "torch": torch.__version__,
        "threads": args.threads,
        "samples": workload.problem.data.train.x.shape[0],
        "throughput": throughput(workload.problem, args),
        "runner": runner_run(workload.problem, args),
    }
    report(figures)
    if args.json:
        write_json(args.json, figures)


if __name__ == "__main__":
    main()
