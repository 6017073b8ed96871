"""Direct-search variants on the MDP protocol: test accuracy, training loss and seconds per run.

Each variant is a set of ``direct-search`` params; each runs through the real runner on the
``mnist-mlp`` problem (784-32-10, cross-entropy on the seed's 5,000 training images, weights in
[-1, 1]) for ``--trials`` evaluations on every seed of ``--seeds``, one after another at
``--threads`` threads, and the table prints mean ± sd over seeds. This is the ablation behind
docs/papers.md, "Reproducing the papers" (the MDP claim: 93.4 % test accuracy, training loss 0.0004).

Run:  DFO_BENCH_DATA=../shared/data .venv/bin/python benchmarks/bench_direct_search_ablation.py \\
          [--trials 1000000] [--seeds 0 1 2] [--variants baseline coordinate ...] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import torch

from dfo_bench.budget import BudgetLimits
from dfo_bench.runner import execute
from dfo_bench.testing import run_spec

V1 = {"steps": "global", "poll": "pair", "skip_flat": False}
"""The version-1 search: one global step, ±step pairs, every coordinate in every sweep."""
VARIANTS: dict[str, dict[str, Any]] = {
    "v1 (global step, pairs)": V1,
    "coordinate steps": {**V1, "steps": "coordinate"},
    "+ opportunistic": {**V1, "steps": "coordinate", "poll": "opportunistic"},
    "+ skip flat (v2 default)": {},
    "+ repeat": {"repeat": True},
    "+ restart 0.5": {"restart_factor": 0.5},
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1_000_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), help=f"any of {list(VARIANTS)}")
    parser.add_argument("--params", type=json.loads, default=None, help="extra params (JSON) for every variant, e.g. '{\"step\": 0.1}'")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None)
    return parser.parse_args()


def run(params: dict[str, Any], seed: int, trials: int, threads: int) -> dict[str, float]:
    spec = run_spec("direct-search", params, problem="mnist-mlp", seed=seed, budget=BudgetLimits(evaluations=trials), checkpoints=5)
    spec = spec.model_copy(update={"threads": threads})
    start = time.perf_counter()
    result = execute(spec)
    if result.error:
        raise RuntimeError(result.error)
    last = result.trace[-1]
    return {"test": last["test_accuracy"], "val": last["val_accuracy"], "loss": last["train_loss"], "seconds": time.perf_counter() - start}


def summary(values: list[float], digits: str = ".4f") -> str:
    mean = statistics.fmean(values)
    return f"{mean:{digits}} ± {statistics.stdev(values):{digits}}" if len(values) > 1 else f"{mean:{digits}}"


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    rows = {}
    print(f"direct search on mnist-mlp, {args.trials:,} evaluations, seeds {args.seeds}, {args.threads} thread(s)")
    print("| variant | params | test accuracy | val accuracy | training loss | seconds per run |\n|---|---|---:|---:|---:|---:|")
    for name in args.variants:
        params = {**VARIANTS[name], **(args.params or {})}
        runs = [run(params, seed, args.trials, args.threads) for seed in args.seeds]
        rows[name] = {"params": params, "runs": runs}
        cells = [summary([r[key] for r in runs], ".2e" if key == "loss" else ".4f") for key in ("test", "val", "loss")]
        seconds = statistics.fmean(r["seconds"] for r in runs)
        print(f"| {name} | {json.dumps(params)} | {' | '.join(cells)} | {seconds:.0f} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
