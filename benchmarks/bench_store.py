"""``dfo-bench status`` and ``dfo-bench report`` on results folders of 1,000 to 10,000 runs.

How each folder is built:

1. Six REAL runs, once: ``dfo-bench run`` (the real runner, objective and store) of the suite
   ``digits-mlp`` × (random-search, de) × seeds 0, 1, 2, budget ``--samples`` (default 10,000,000
   forward-equivalent samples, the quickstart's), 25 checkpoints (26 trace rows per run: the
   issue's baseline folder), sequential, on the CPU.
   They are kept in ``<work>/real`` and reused by later invocations (run again when they lack a
   column today's run files have, ``CURRENT_COLUMNS``).
2. For N runs: the same suite with seeds ``0 .. N/2-1`` is expanded by ``load_suite`` (real run
   ids and configuration hashes) and its copy stored in the folder (``suites/``), as ``dfo-bench
   run`` would. Each of its N runs is written as a copy of the real run of the same optimizer and
   seed ``seed mod 3``, with the columns that name the run rewritten (``run_id``, ``seed``,
   ``config_hash``, ``identity``, ``run_seed``): N real run files with real traces, repeated.
   ``status`` therefore finds every expected run done and none pending.

Then, each as a subprocess (peak RSS from ``os.wait4`` in a small launcher, ``LAUNCHER``): the imports alone of each command (the
floor of ``status``: pydantic, pandas, pyarrow; of ``report``: also scipy, matplotlib; neither imports torch),
``dfo-bench status`` with no index (cold: it builds it from the run files), again (warm), and
warm without the suite copy's record of expected runs (as on a folder written before it: the copy
is expanded, which imports the registry and torch), ``dfo-bench report --format markdown`` cold
(index deleted first) and warm. It ends with how each grows from the smallest to the
largest N (time ratio against the ratio of runs).

Run (heavy: under the shared lock):
    flock /work/heavy.lock .venv/bin/python benchmarks/bench_store.py --runs 1000 10000 [--work DIR] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from harness import write_json
from tabulate import tabulate

from dfo_bench.hashing import canonical_json
from dfo_bench.seeding import derive_seed
from dfo_bench.store import ResultStore
from dfo_bench.suite import load_suite

OPTIMIZERS = ("random-search", "de")
REAL_SEEDS = 3


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="status and report on results folders of many runs.")
    parser.add_argument("--runs", type=int, nargs="+", default=[1000, 10000], help="folder sizes (default 1000 10000)")
    parser.add_argument("--samples", type=int, default=10_000_000, help="budget of each real run (default 10000000)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-store"), help="where folders are built and kept")
    parser.add_argument("--skip-report", action="store_true", help="time status only")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args()


def suite_text(seeds: list[int], samples: int) -> str:
    return yaml.safe_dump(
        {
            "name": "bench-store",
            "problems": ["digits-mlp"],
            "optimizers": list(OPTIMIZERS),
            "seeds": seeds,
            "budget": {"samples": samples},
            "checkpoints": 25,
            "device": "cpu",
            "executor": {"kind": "sequential"},
        },
        sort_keys=False,
    )


CURRENT_COLUMNS = ("declared_metrics",)
"""Columns of run files written since the report stopped importing torch: without them the report
would import the registry (and torch) to read what each problem declares."""


def _current(files: list[Path]) -> bool:
    return len(files) >= len(OPTIMIZERS) * REAL_SEEDS and all(
        set(CURRENT_COLUMNS) <= set(pq.read_schema(path).names) for path in files
    )


def real_runs(work: Path, samples: int) -> dict[tuple[str, int], pa.Table]:
    """The real runs' tables by (optimizer label, seed); run once when missing or out of date."""
    real = work / f"real-{samples}"
    if not _current(sorted(real.glob("runs/*.parquet"))):
        shutil.rmtree(real, ignore_errors=True)
        real.mkdir(parents=True, exist_ok=True)
        suite = real / "suite.yaml"
        suite.write_text(suite_text(list(range(REAL_SEEDS)), samples))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dfo_bench", "run", str(suite), "--out", str(real)], check=True)
        print(f"real runs: {time.perf_counter() - start:.1f} s")
    tables = {}
    for path in sorted((real / "runs").glob("*.parquet")):
        table = pq.read_table(path)
        row = table.slice(0, 1).to_pylist()[0]
        tables[(row["optimizer_label"], row["seed"])] = table
    return tables


def build(folder: Path, runs: int, samples: int, templates: dict[tuple[str, int], pa.Table]) -> None:
    """A folder of ``runs`` run files (copies of the real ones under the suite's run ids), unless
    built before; its suite copy and record of expected runs written as ``dfo-bench run`` does."""
    text = suite_text(list(range(runs // len(OPTIMIZERS))), samples)
    source = folder.with_suffix(".yaml")
    source.write_text(text)
    suite = load_suite(source)
    names = os.listdir(folder / "runs") if (folder / "runs").is_dir() else []
    template = next(iter(templates.values()))
    if not (len(names) == runs and pq.read_schema(folder / "runs" / names[0]).names == template.schema.names):
        shutil.rmtree(folder, ignore_errors=True)
        start = time.perf_counter()
        (folder / "runs").mkdir(parents=True)
        store = ResultStore(folder)
        for spec in suite.runs:
            table = templates[(spec.optimizer.label, spec.seed % REAL_SEEDS)]
            rows = table.num_rows
            values = {
                "run_id": spec.run_id,
                "seed": spec.seed,
                "config_hash": spec.config_hash,
                "identity": canonical_json(spec.identity()),
                "run_seed": derive_seed(spec.seed, "optimizer", spec.problem.name, spec.optimizer.name),
            }
            for name, value in values.items():
                i = table.schema.get_field_index(name)
                table = table.set_column(i, table.schema.field(i), pa.array([value] * rows, table.schema.field(i).type))
            pq.write_table(table, store.path(spec.run_id))
        print(f"built {folder} ({runs} runs) in {time.perf_counter() - start:.1f} s")
    ResultStore(folder).write_suite_copy("bench-store", text, *suite.expected())


LAUNCHER = """
import os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""
"""Runs a command and prints its wall seconds, peak RSS (KiB) and exit status. Linux counts in a
child's peak RSS the resident set of the process it was forked from (kept at ``exec``), so a
command started from this script, which holds torch and the run tables, would show this script's
memory as its floor: the command is started from this small launcher instead."""


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of ``command`` as a subprocess of ``LAUNCHER``; it must succeed."""
    done = subprocess.run([sys.executable, "-c", LAUNCHER, *command], capture_output=True, text=True)
    seconds, kib, code = done.stdout.split()
    if done.returncode != 0 or int(code) != 0:
        raise SystemExit(f"{' '.join(command)}: exit {code}\n{done.stderr}")
    return float(seconds), int(kib) / 1024


def measure(folder: Path, skip_report: bool) -> dict[str, tuple[float, float]]:
    dfo = [sys.executable, "-m", "dfo_bench"]
    found = {
        "imports (status)": timed([sys.executable, "-c", "import dfo_bench.cli, dfo_bench.status"]),
        "imports (report)": timed([sys.executable, "-c", "import dfo_bench.cli, dfo_bench.report"]),
    }
    shutil.rmtree(folder / "index", ignore_errors=True)
    found["status cold"] = timed([*dfo, "status", str(folder)])
    found["status warm"] = timed([*dfo, "status", str(folder)])
    expected = folder / "suites" / "bench-store.expected.json"
    kept = expected.rename(expected.with_suffix(".kept"))
    try:
        found["status expanding"] = timed([*dfo, "status", str(folder)])  # a folder from before the record
    finally:
        kept.rename(expected)
    if not skip_report:
        out = folder.parent / f"{folder.name}-report"
        shutil.rmtree(folder / "index", ignore_errors=True)
        found["report cold"] = timed([*dfo, "report", str(folder), "--out", str(out), "--format", "markdown"])
        found["report warm"] = timed([*dfo, "report", str(folder), "--out", str(out), "--format", "markdown"])
    return found


def main() -> None:
    args = parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    templates = real_runs(args.work, args.samples)
    figures: dict[int, dict[str, tuple[float, float]]] = {}
    for runs in sorted(args.runs):
        folder = args.work / f"runs-{runs}-{args.samples}"
        build(folder, runs, args.samples, templates)
        figures[runs] = measure(folder, args.skip_report)
        for name, (seconds, rss) in figures[runs].items():
            print(f"{runs:>6} runs  {name:<17} {seconds:7.2f} s  {rss:7.0f} MiB", flush=True)
    names = list(next(iter(figures.values())))
    rows = [[runs, *(f"{figures[runs][n][0]:.2f} s / {figures[runs][n][1]:.0f} MiB" for n in names)] for runs in figures]
    print(tabulate(rows, headers=["runs", *names]))
    small, large = min(figures), max(figures)
    if large > small:
        print(f"growth from {small} to {large} runs ({large / small:.0f}x the runs):")
        for n in names:
            print(
                f"  {n:<17} time {figures[large][n][0] / figures[small][n][0]:.1f}x, peak memory {figures[large][n][1] / figures[small][n][1]:.1f}x"
            )
    if args.json:
        write_json(
            args.json, {str(runs): {n: {"seconds": s, "peak_mib": m} for n, (s, m) in f.items()} for runs, f in figures.items()}
        )


if __name__ == "__main__":
    main()
