"""The same 12-run digits suite through every executor: wall time and the engine's cost per run.

Runs ``digits-mlp`` × (random-search, de, ga) × 4 seeds (``--evaluations`` each) into a fresh
folder per engine: sequential, the process pool, a Dask LocalCluster and submitit's local mode
(``--workers`` at once for the last three). For each it prints the wall time, the runs' own time
(the sum of their stored search seconds, which leave out checkpoint measurements and set-up), and
the overhead per run = (wall × slots − runs' own time) / runs, where slots is how many runs can
run at once (1 sequential, ``--workers`` otherwise): what the engine and each run's set-up cost
beyond the search. Both are also shown as ratios to sequential.

Run:  .venv/bin/python benchmarks/bench_executors.py [--evaluations 20000] [--workers 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from harness import write_json
from tabulate import tabulate

from dfo_bench.executors import make_executor, run_suite
from dfo_bench.store import ResultStore
from dfo_bench.suite import ExecutorConfig, load_suite


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="One 12-run suite through every executor.")
    parser.add_argument("--evaluations", type=int, default=20000, help="budget of each run (default 20000)")
    parser.add_argument("--workers", type=int, default=2, help="runs at once for the parallel engines (default 2)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args()


def engines(workers: int) -> dict[str, dict[str, Any]]:
    return {
        "sequential": {"kind": "sequential"},
        "process pool": {"kind": "process", "workers": workers},
        "dask LocalCluster": {"kind": "dask", "workers": workers},
        "submitit local": {"kind": "slurm", "cluster": "local", "array_parallelism": workers, "time_min": 60},
    }


def main() -> None:
    args = parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-executors-"))
    suite_file = folder / "suite.yaml"
    suite_file.write_text(
        yaml.safe_dump(
            {
                "name": "bench-executors",
                "problems": ["digits-mlp"],
                "optimizers": ["random-search", {"name": "de", "params": {"popsize": 16}}, "ga"],
                "seeds": [0, 1, 2, 3],
                "budget": {"evaluations": args.evaluations},
                "device": "cpu",
            }
        )
    )
    suite = load_suite(suite_file)
    rows = []
    for name, config in engines(args.workers).items():
        out = folder / name.replace(" ", "-")
        executor = make_executor(ExecutorConfig(**config), suite)
        start = time.perf_counter()
        summaries = run_suite(suite, out, executor, progress=False)
        wall = time.perf_counter() - start
        assert len(summaries) == len(suite.runs) and all(s.status == "ok" for s in summaries), name
        frame = ResultStore(out).load()
        own = float(frame.groupby("run_id")["final_seconds"].first().sum())
        slots = 1 if config["kind"] == "sequential" else args.workers
        rows.append({"engine": name, "wall_s": wall, "runs_own_s": own, "overhead_per_run_s": (wall * slots - own) / len(summaries)})
    base = rows[0]
    table = [
        [
            r["engine"],
            f"{r['wall_s']:.1f}",
            f"{r['wall_s'] / base['wall_s']:.2f}",
            f"{r['runs_own_s']:.1f}",
            f"{r['overhead_per_run_s']:.2f}",
            f"{r['overhead_per_run_s'] / base['overhead_per_run_s']:.2f}",
        ]
        for r in rows
    ]
    headers = ["engine", "wall s", "wall / sequential", "runs' own s", "overhead per run s", "overhead / sequential"]
    print(f"{len(suite.runs)} runs of {args.evaluations} evaluations, {args.workers} at once for the parallel engines")
    print(tabulate(table, headers=headers, disable_numparse=True))
    if args.json:
        write_json(args.json, {"runs": len(suite.runs), "evaluations": args.evaluations, "workers": args.workers, "rows": rows})


if __name__ == "__main__":
    main()
