"""Bad input from a user's side. The rule: every bad input gets one line naming the file, the
field and what is allowed, exit status 2, and nothing written, all checked before any run starts.

Suite mistakes go through ``load_suite`` (fast); a selection of them, and everything that only the
command line sees (the device, ``--out``, ``report``, options), go through the real CLI in a
subprocess, which must leave the test's folder exactly as it was.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
import yaml

from dfo_bench.errors import ConfigError
from dfo_bench.suite import load_suite, read_yaml
from dfo_bench.suite.document import MAX_BYTES, MAX_DEPTH
from tests.conftest import CLI, GOOD, cli_env, with_changes
from tests.report_data import synthetic_results


def text(**lines: str) -> str:
    """GOOD as YAML with fields replaced by YAML text as a user writes it (``.inf``, ``.nan``...)."""
    kept = {k: v for k, v in GOOD.items() if k not in lines}
    return yaml.safe_dump(kept, sort_keys=False) + "".join(f"{k}: {v}\n" for k, v in lines.items())


MISSING_DATA = "/nonexistent/data"
LAUGHS = "[" + ", ".join(f"&l{i} [{', '.join([f'*l{i - 1}' if i else 'lol'] * 10)}]" for i in range(6)) + "]"
"""Six anchors each holding ten aliases of the one before: a million values once expanded."""

CASES: dict[str, tuple[dict[str, Any] | str | bytes, str | None, list[str]]] = {
    # case: (suite content, the field the line names right after the file (None: the file as a
    # whole), words it must also contain: what was wrong and what is allowed)
    # seeds
    "seed negative": (text(seeds="[0, -1]"), "seeds[1]", ["greater than or equal to 0", "got -1"]),
    "seed 2**63": (with_changes(seeds=[2**63]), "seeds[0]", ["less than 9223372036854775808"]),
    "seed bool": (text(seeds="[true]"), "seeds[0]", ["valid integer", "got True"]),
    "seed float": (text(seeds="[1.5]"), "seeds[0]", ["valid integer", "got 1.5"]),
    "seed .nan": (text(seeds="[.nan]"), "seeds[0]", ["valid integer", "got nan"]),
    "seeds duplicated": (text(seeds="[3, 1, 3]"), "seeds", ["distinct", "3 repeats"]),
    "seeds empty": (text(seeds="[]"), "seeds", ["at least 1 item"]),
    "seeds not a list": (text(seeds="3"), "seeds", ["valid list", "got 3"]),
    # budget
    "budget evaluations .inf": (text(budget="{evaluations: .inf}"), "budget.evaluations", ["finite number", "got inf"]),
    "budget seconds .inf": (text(budget="{seconds: .inf}"), "budget.seconds", ["finite number", "got inf"]),
    "budget samples .nan": (text(budget="{samples: .NaN}"), "budget.samples", ["finite number", "got nan"]),
    "budget zero": (text(budget="{evaluations: 0}"), "budget.evaluations", ["greater than 0", "got 0"]),
    "budget negative": (text(budget="{seconds: -5}"), "budget.seconds", ["greater than 0", "got -5"]),
    "budget missing": (with_changes(budget=None), "budget", ["Field required"]),
    "budget without a limit": (text(budget="{}"), "budget", ["set at least one of evaluations, samples, seconds"]),
    "budget a string": (text(budget="lots"), "budget", ["valid dictionary", "got 'lots'"]),
    "budget evaluations a string": (text(budget="{evaluations: many}"), "budget.evaluations", ["valid integer", "'many'"]),
    "budget evaluations 2**63": (
        with_changes(budget={"evaluations": 2**63}),
        "budget.evaluations",
        ["less than or equal to 9223372036854775807"],
    ),
    "budget unknown key": (
        text(budget="{evals: 100}"),
        "budget",
        ["unknown field 'evals'", "allowed: evaluations, samples, seconds"],
    ),
    "optimizer's budget .inf": (
        text(optimizers="[{name: adam, budget: {seconds: .inf}}]"),
        "optimizers[0].budget.seconds",
        ["finite number"],
    ),
    # optimizer parameters
    "adam lr .inf": (
        text(optimizers="[{name: adam, params: {lr: .inf}}]"),
        "optimizers[0].params.lr",
        ["finite number", "got inf", "allowed: lr, batch_size"],
    ),
    "adam lr .nan": (
        text(optimizers="[{name: adam, params: {lr: .nan}}]"),
        "optimizers[0].params.lr",
        ["finite number", "got nan"],
    ),
    "de F .nan": (
        text(optimizers="[{name: de, params: {F: .nan}}]"),
        "optimizers[0].params.F",
        ["finite number", "got nan", "allowed: popsize, F, CR"],
    ),
    "de F -.inf": (text(optimizers="[{name: de, params: {F: -.inf}}]"), "optimizers[0].params.F", ["finite number", "got -inf"]),
    "de F out of range": (
        text(optimizers="[{name: de, params: {F: 3}}]"),
        "optimizers[0].params.F",
        ["less than or equal to 2", "got 3"],
    ),
    "de popsize too small": (
        text(optimizers="[{name: de, params: {popsize: 2}}]"),
        "optimizers[0].params.popsize",
        ["greater than or equal to 4"],
    ),
    "de mistyped parameter": (
        text(optimizers="[{name: de, params: {f: 0.5}}]"),
        "optimizers[0].params.f",
        ["not permitted", "allowed:", "F", "CR"],
    ),
    "de wrong type": (
        text(optimizers="[{name: de, params: {popsize: many}}]"),
        "optimizers[0].params.popsize",
        ["valid integer", "'many'"],
    ),
    "de unknown strategy": (
        text(optimizers="[{name: de, params: {strategy: best2}}]"),
        "optimizers[0].params.strategy",
        ["'rand1bin' or 'best1bin'"],
    ),
    "de bounds reversed": (
        text(optimizers="[{name: de, params: {bounds: [1, -1]}}]"),
        "optimizers[0].params.bounds",
        ["low < high", "(1.0, -1.0)"],
    ),
    "de bounds infinite": (
        text(optimizers="[{name: de, params: {bounds: [-.inf, 1]}}]"),
        "optimizers[0].params.bounds[0]",
        ["finite number", "got -inf"],
    ),
    "de bounds three numbers": (
        text(optimizers="[{name: de, params: {bounds: [1, 2, 3]}}]"),
        "optimizers[0].params.bounds",
        ["at most 2 items"],
    ),
    "de uniform start without bounds": (
        text(optimizers="[{name: de, params: {init: uniform}}]"),
        "optimizers[0].params",
        ["init: uniform needs bounds"],
    ),
    "params not a mapping": (text(optimizers="[{name: de, params: [1]}]"), "optimizers[0].params", ["valid dictionary"]),
    # problem parameters (test functions run with the suite's gradient-free optimizers)
    "sphere radius .inf": (
        text(problems="[{name: sphere, params: {radius: .inf}}]"),
        "problems[0].params.radius",
        ["finite number", "allowed: dim, radius"],
    ),
    "sphere radius .nan": (
        text(problems="[{name: sphere, params: {radius: .nan}}]"),
        "problems[0].params.radius",
        ["finite number", "got nan"],
    ),
    "sphere dim out of range": (
        text(problems="[{name: sphere, params: {dim: 1}}]"),
        "problems[0].params.dim",
        ["greater than or equal to 2"],
    ),
    "sphere unknown parameter": (
        text(problems="[{name: sphere, params: {dims: 3}}]"),
        "problems[0].params.dims",
        ["not permitted", "allowed: dim, radius"],
    ),
    "sphere dim wrong type": (
        text(problems="[{name: sphere, params: {dim: ten}}]"),
        "problems[0].params.dim",
        ["valid integer", "'ten'"],
    ),
    # names
    "unknown optimizer": (
        text(optimizers="[rando-search]"),
        "optimizers[0].name",
        ["unknown optimizer", "did you mean 'random-search'", "known: adam"],
    ),
    "unknown problem": (
        text(problems="[digit-mlp]"),
        "problems[0].name",
        ["unknown problem", "did you mean 'digits-mlp'", "known: "],
    ),
    "unknown pre-training optimizer": (
        text(problems="[{name: digits-mlp, init: {pretrain: {optimizer: adamw, epochs: 1}}}]"),
        "problems[0].init.pretrain.optimizer",
        ["did you mean 'adam'"],
    ),
    "optimizer without a name": (text(optimizers="[{params: {F: 0.5}}]"), "optimizers[0].name", ["Field required"]),
    "optimizer entry unknown key": (
        text(optimizers="[{name: de, parms: {F: 0.5}}]"),
        "optimizers[0]",
        ["unknown field 'parms'", "allowed: name, label, params"],
    ),
    "no optimizers": (text(optimizers="[]"), "optimizers", ["at least 1 item"]),
    # data locations: refused at validation, not when a run loads them
    "mnist-mlp data missing": (
        text(problems=f"[{{name: mnist-mlp, params: {{root: {MISSING_DATA}}}}}]"),
        "problems[0].params",
        ["no MNIST IDX files", MISSING_DATA, "download: true"],
    ),
    "cifar10-resnet18 data missing": (
        text(problems=f"[{{name: cifar10-resnet18, params: {{root: {MISSING_DATA}}}}}]"),
        "problems[0].params",
        ["no CIFAR-10 data", MISSING_DATA, "download: true"],
    ),
    "cifar100-resnet18 data missing": (
        text(problems=f"[{{name: cifar100-resnet18, params: {{root: {MISSING_DATA}}}}}]"),
        "problems[0].params",
        ["no CIFAR-100 data", MISSING_DATA, "download: true"],
    ),
    # super-batches and spaces
    "super_batch 0": (
        text(optimizers="[{name: de, super_batch: 0}]"),
        "optimizers[0].super_batch",
        ["greater than or equal to 1", "got 0"],
    ),
    "super_batch negative": (
        text(optimizers="[{name: de, super_batch: -1000}]"),
        "optimizers[0].super_batch",
        ["greater than or equal to 1"],
    ),
    **{
        f"super_batch on {fn}": (
            text(problems=f"[{fn}]", optimizers="[{name: de, super_batch: 100}]"),
            "optimizers[0].super_batch",
            [f"problem '{fn}' has no training set"],
        )
        for fn in ("sphere", "rosenbrock", "rastrigin")
    },
    "space kind unknown": (
        text(optimizers="[{name: de, space: {kind: cubes}}]"),
        "optimizers[0].space",
        ["'cubes'", "'full', 'blocks'"],
    ),
    "space n_bins 0": (
        text(optimizers="[{name: de, space: {kind: blocks, n_bins: 0}}]"),
        "optimizers[0].space.n_bins",
        ["greater than or equal to 1"],
    ),
    "space without kind": (
        text(optimizers="[{name: de, space: {n_bins: 300}}]"),
        "optimizers[0].space",
        ["discriminator 'kind'"],
    ),
    # pre-training
    "weight optimizer on a typed problem": (
        with_changes(problems=["mlp-hpo"]),
        "optimizers[1].name",
        [
            "'de' cannot search the typed space of problem 'mlp-hpo'",
            "allowed: ga-hpo, mobo-ars, nevergrad, nsga2, optuna, parego, pymoo, random-box, random-search",
        ],
    ),
    "typed optimizer on weights": (
        with_changes(optimizers=["ga-hpo"]),
        "optimizers[0].name",
        ["'ga-hpo' cannot search the weights space of problem 'digits-mlp'", "allowed: adam, ars, cbo"],
    ),
    "space on a typed problem": (
        with_changes(problems=["mlp-hpo"], optimizers=[{"name": "random-search", "space": {"kind": "blocks"}}]),
        "optimizers[0].space",
        ["searches configurations, not weights", "remove space"],
    ),
    # low-rank noise (EGGROLL)
    "eggroll rank 0": (
        with_changes(optimizers=[{"name": "eggroll", "params": {"rank": 0}}]),
        "optimizers[0].params.rank",
        ["greater than or equal to 1", "got 0"],
    ),
    "eggroll rank above the smallest matrix": (
        with_changes(optimizers=[{"name": "eggroll", "params": {"rank": 11}}]),
        "optimizers[0].params.rank",
        ["rank 11 exceeds", "allowed: 1 to 10", "digits-mlp"],
    ),
    "eggroll sigma 0": (
        with_changes(optimizers=[{"name": "eggroll", "params": {"sigma": 0}}]),
        "optimizers[0].params.sigma",
        ["greater than 0", "got 0"],
    ),
    "eggroll on a problem without a layout": (
        with_changes(problems=["sphere"], optimizers=["eggroll"]),
        "optimizers[0].name",
        [
            "'eggroll' perturbs weight matrices, problem 'sphere' declares none",
            "allowed: cifar10-resnet18, cifar100-resnet18, digits-mlp, mnist-mlp",
        ],
    ),
    "openai-es low rank on a problem without a layout": (
        with_changes(problems=["sphere"], optimizers=[{"name": "openai-es", "params": {"rank": 1}}]),
        "optimizers[0].name",
        ["'openai-es' perturbs weight matrices", "allowed: cifar10-resnet18"],
    ),
    "eggroll in a blocks space": (
        with_changes(optimizers=[{"name": "eggroll", "space": {"kind": "blocks"}}]),
        "optimizers[0].space",
        ["searches the full space", "remove space"],
    ),
    "mlp-hpo on mnist without its files": (
        with_changes(problems=[{"name": "mlp-hpo", "params": {"dataset": "mnist", "root": MISSING_DATA}}]),
        "problems[0].params",
        ["no MNIST IDX files in '/nonexistent/data'", "allowed: dataset, epochs"],
    ),
    "pretrain with a gradient-free optimizer": (
        text(problems="[{name: digits-mlp, init: {pretrain: {optimizer: de, epochs: 1}}}]"),
        "problems[0].init.pretrain.optimizer",
        ["'de' is not a gradient optimizer", "allowed: adam"],
    ),
    "pretrain epochs 0": (
        text(problems="[{name: digits-mlp, init: {pretrain: {epochs: 0}}}]"),
        "problems[0].init.pretrain.epochs",
        ["greater than 0"],
    ),
    "pretrain epochs .inf": (
        text(problems="[{name: digits-mlp, init: {pretrain: {epochs: .inf}}}]"),
        "problems[0].init.pretrain.epochs",
        ["finite number"],
    ),
    "pretrain on a test function": (
        text(problems="[{name: sphere, init: {pretrain: {epochs: 1}}}]"),
        "problems[0].init.pretrain",
        ["sphere has no training set"],
    ),
    "pretrain params .nan": (
        text(problems="[{name: digits-mlp, init: {pretrain: {epochs: 1, params: {lr: .nan}}}}]"),
        "problems[0].init.pretrain.params.lr",
        ["finite number", "allowed: lr"],
    ),
    # the rest of the suite
    "checkpoints 19": (text(checkpoints="19"), "checkpoints", ["greater than or equal to 20"]),
    "checkpoints 1001": (text(checkpoints="1001"), "checkpoints", ["less than or equal to 1000"]),
    "threads 0": (text(threads="0"), "threads", ["greater than or equal to 1"]),
    "executor kind unknown": (
        text(executor="{kind: cluster}"),
        "executor.kind",
        ["'sequential', 'process', 'dask' or 'slurm'", "'cluster'"],
    ),
    "executor shorthand unknown": (text(executor="cluster"), "executor.kind", ["'sequential', 'process', 'dask' or 'slurm'"]),
    "executor workers 0": (text(executor="{kind: process, workers: 0}"), "executor.workers", ["greater than or equal to 1"]),
    "executor retries negative": (
        text(executor="{kind: process, retries: -1}"),
        "executor.retries",
        ["greater than or equal to 0"],
    ),
    "executor field of another kind": (
        text(executor="{kind: dask, partition: gpu}"),
        "executor.partition",
        ["a field of kind slurm, not of dask", "allowed for dask: address, workers"],
    ),
    "executor unknown field": (
        text(executor="{kind: process, nodes: 2}"),
        "executor",
        ["unknown field 'nodes'", "allowed: kind, workers, retries"],
    ),
    "dask address empty": (text(executor="{kind: dask, address: ''}"), "executor.address", ["at least 1 character"]),
    "dask address a number": (text(executor="{kind: dask, address: 8786}"), "executor.address", ["valid string", "got 8786"]),
    "dask memory limit not a size": (
        text(executor="{kind: dask, memory_limit: lots}"),
        "executor.memory_limit",
        ["not a memory size", "allowed: bytes, or a size like 4GiB"],
    ),
    "dask threads 0": (
        text(executor="{kind: dask, threads_per_worker: 0}"),
        "executor.threads_per_worker",
        ["greater than or equal to 1"],
    ),
    "slurm partition not a string": (
        text(executor="{kind: slurm, partition: 5}"),
        "executor.partition",
        ["valid string", "got 5"],
    ),
    "slurm partition a list": (text(executor="{kind: slurm, partition: [gpu]}"), "executor.partition", ["valid string"]),
    "slurm negative GPUs": (
        text(executor="{kind: slurm, gpus_per_run: -1}"),
        "executor.gpus_per_run",
        ["greater than or equal to 0", "got -1"],
    ),
    "slurm CPUs 0": (text(executor="{kind: slurm, cpus_per_run: 0}"), "executor.cpus_per_run", ["greater than or equal to 1"]),
    "slurm time 0": (text(executor="{kind: slurm, time_min: 0}"), "executor.time_min", ["greater than or equal to 1"]),
    "slurm memory .inf": (text(executor="{kind: slurm, mem_gb: .inf}"), "executor.mem_gb", ["finite number"]),
    "slurm memory negative": (text(executor="{kind: slurm, mem_gb: -4}"), "executor.mem_gb", ["greater than 0"]),
    "slurm array parallelism 0": (
        text(executor="{kind: slurm, array_parallelism: 0}"),
        "executor.array_parallelism",
        ["greater than or equal to 1"],
    ),
    "slurm cluster unknown": (text(executor="{kind: slurm, cluster: pbs}"), "executor.cluster", ["'slurm' or 'local'", "'pbs'"]),
    "slurm option unknown to submitit": (
        text(executor="{kind: slurm, slurm_bogus: 1}"),
        "executor",
        ["unknown field 'slurm_bogus'", "allowed slurm_* options", "slurm_qos"],
    ),
    "slurm option on dask": (
        text(executor="{kind: dask, slurm_qos: high}"),
        "executor",
        ["unknown field 'slurm_qos'", "for kind slurm"],
    ),
    "device unknown": (text(device="tpu"), "device", ["'auto', 'cpu' or 'cuda'", "'tpu'"]),
    "duplicate labels": (
        text(optimizers="[de, de]"),
        "optimizers",
        ["labels must be distinct", "'de' repeats", "give each a label"],
    ),
    "duplicate given labels": (text(optimizers="[{name: de, label: x}, {name: ga, label: x}]"), "optimizers", ["'x' repeats"]),
    "duplicate problem labels": (text(problems="[sphere, sphere]"), "problems", ["labels must be distinct", "'sphere' repeats"]),
    "empty label": (text(optimizers="[{name: de, label: ''}]"), "optimizers[0].label", ["at least 1 character"]),
    "suite name with a slash": (text(name="a/b"), "name", ["should match pattern", "'a/b'"]),
    "suite name empty": (text(name="''"), "name", ["at least 1 character"]),
    "unknown top-level field": (
        with_changes(seed=[1]),
        "suite",
        ["unknown field 'seed'", "allowed: name, problems, optimizers, seeds, budget"],
    ),
    # the file as a whole
    "top-level list": ("- digits-mlp\n", "suite", ["a suite is a mapping", "not a list"]),
    "top-level scalar": ("digits-mlp\n", "suite", ["a suite is a mapping", "not a str"]),
    "empty file": ("", "suite", ["a suite is a mapping", "not an empty file"]),
    "invalid YAML": ("problems: [digits-mlp\nseeds: {", None, ["not valid YAML at line 2, column 6"]),
    "non-UTF-8 bytes": (b"\xff\xfename: x\n", None, ["not UTF-8 text (byte 0)"]),
    "binary file": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None, ["a binary file"]),
    # the YAML itself: each key once, within limits of size, nesting and alias expansion, no Python tags
    "duplicate top-level key": (
        text(seeds="[0]") + "seeds: [1]\n",
        "seeds",
        ["duplicate key (lines 11 and 12)", "each key once"],
    ),
    "duplicate nested key": (
        text(optimizers="\n  - random-search\n  - name: de\n    params:\n      popsize: 8\n      popsize: 16"),
        "optimizers[1].params.popsize",
        ["duplicate key (lines 14 and 15); each key once"],
    ),
    "duplicate key in a flow mapping": (
        text(budget="{evaluations: 10, evaluations: 20}"),
        "budget.evaluations",
        ["duplicate key"],
    ),
    "duplicate key spelled two ways": (text(budget="{1: a, 0x1: b}"), "budget.0x1", ["duplicate key"]),
    "nested 33 levels": (text(name="[" * 33 + "]" * 33), "name" + "[0]" * 32, ["nested more than 32 levels deep", "at most 32"]),
    "nested 5000 levels": (text(name="[" * 5000 + "]" * 5000), "name" + "[0]" * 32, ["nested more than 32 levels deep"]),
    "larger than 1 MiB": (text(name="x") + "#" * 2**20 + "\n", None, ["larger than 1 MiB", "at most 1 MiB (1,048,576 bytes)"]),
    "billion laughs": (
        text(problems="[{name: sphere, params: {dim: " + LAUGHS + "}}]"),
        "problems[0].params.dim[4][7]",
        ["more than 100,000 values with aliases expanded", "each use of an alias counting its anchor's values"],
    ),
    "alias inside its own anchor": (text(seeds="&s [0, *s]"), "seeds[1]", ["alias *s inside its own anchor"]),
    "anchor defined twice": (text(name="&n a", device="&n cpu"), None, ["found duplicate anchor 'n'"]),
    "python tag": (text(name="!!python/object/apply:os.system [echo hi]"), None, ["python/object/apply:os.system"]),
    "integer too long for Python": (text(seeds=f"[{'9' * 5000}]"), None, ["as int", "4300 digits"]),
    "impossible date": (text(name="2001-13-45"), None, ["cannot read '2001-13-45' as timestamp", "month must be in 1..12"]),
    "not a bool": (text(device="!!bool maybe"), None, ["cannot read 'maybe' as bool"]),
    "two documents": (text(name="x") + "---\nname: y\n", None, ["expected a single document"]),
    "a set as a key": (text(name="x") + "!!set device: cpu\n", None, ["expected a mapping node, but found scalar"]),
    "control character in the file": (
        "name: a\x1f\n",
        None,
        ["not valid YAML at line 1", r"'\x1f' is a character YAML does not allow"],
    ),
    "unknown key with a newline": (text(budget='{"evals\\nx": 1}'), "budget", [r"unknown field 'evals\nx'"]),
    # labels and names: every run's file name is <problem label>__<optimizer label>__...
    "label escaping the folder": (
        text(optimizers="[{name: de, label: '../../../escaped'}]"),
        "optimizers[0].label",
        ["'../../../escaped' is not a file name", "'/' is not allowed", "allowed: up to 100 ASCII letters, digits"],
    ),
    "problem label escaping the folder": (
        text(problems="[{name: sphere, label: /etc/passwd}]"),
        "problems[0].label",
        ["'/' is not allowed"],
    ),
    "label with a backslash": (text(optimizers=r"[{name: de, label: 'a\b'}]"), "optimizers[0].label", [r"'\\' is not allowed"]),
    "label '..'": (text(optimizers="[{name: de, label: '..'}]"), "optimizers[0].label", ["a leading '.' is not allowed"]),
    "label of a hidden file": (text(optimizers="[{name: de, label: .de}]"), "optimizers[0].label", ["a leading '.'"]),
    "label with a NUL": (text(optimizers=r'[{name: de, label: "de\0"}]'), "optimizers[0].label", [r"'\x00' is not allowed"]),
    "label with a newline": (text(optimizers=r'[{name: de, label: "d\ne"}]'), "optimizers[0].label", [r"'\n' is not allowed"]),
    "label with a space": (text(optimizers="[{name: de, label: my de}]"), "optimizers[0].label", ["' ' is not allowed"]),
    "label not ASCII": (text(optimizers="[{name: de, label: dé}]"), "optimizers[0].label", ["'é' is not allowed"]),
    "label of 101 characters": (
        text(optimizers=f"[{{name: de, label: {'d' * 101}}}]"),
        "optimizers[0].label",
        ["101 characters", "up to 100"],
    ),
    "label made from parameters not a file name": (
        text(problems="[sphere]", optimizers="[{name: pymoo, params: {options: {eta/2: 1}}}]"),
        "optimizers[0].label",
        ["the label made from the parameters", "'/' is not allowed", "give a label"],
    ),
    "labels differing only in case": (
        text(optimizers="[{name: de, label: DE}, {name: ga, label: de}]"),
        "optimizers",
        ["distinct ignoring case", "'DE' and 'de' differ only in case"],
    ),
    "problem labels differing only in case": (
        text(problems="[{name: sphere, label: Sphere}, {name: rosenbrock, label: sphere}]"),
        "problems",
        ["'Sphere' and 'sphere' differ only in case"],
    ),
    "labels making the same run ids": (
        text(
            problems="[{name: sphere, label: a_}, {name: rosenbrock, label: a}]",
            optimizers="[{name: de, label: b}, {name: ga, label: _b}]",
        ),
        "optimizers[1].label",
        ["makes the run ids of 'b' with 'a_'", "give labels without '__'"],
    ),
    "run ids longer than a file name": (
        text(
            problems=f"[{{name: sphere, label: {'p' * 100}}}]",
            optimizers=f"[{{name: de, label: {'o' * 100}}}]",
            seeds=f"[{2**63 - 1}]",
        ),
        "optimizers[0].label",
        ["run ids of 245 characters", "allowed: at most 234"],
    ),
    "suite name of 101 characters": (text(name="n" * 101), "name", ["should match pattern"]),
    "suite name '..'": (text(name="'..'"), "name", ["should match pattern"]),
    # sizes the parameters tell without loading data: refused now, not when the run starts
    "super_batch larger than the training set": (
        text(optimizers="[{name: de, super_batch: 5000}]"),
        "optimizers[0].super_batch",
        ["super-batches of 5,000 samples", "problem 'digits-mlp' trains on 1,077", "allowed: 1 to 1,077"],
    ),
    "hbde's default super_batch on a small training set": (
        text(problems="[{name: digits-mlp, params: {n_val: 600, n_test: 600}, label: small}]", optimizers="[hbde]"),
        "optimizers[0].super_batch",
        ["super-batches of 1,000 samples", "trains on 597"],
    ),
    "problem's super_batch larger than its training set": (
        text(problems="[{name: digits-mlp, params: {super_batch: 2000}}]"),
        "problems[0].params.super_batch",
        ["super-batches of 2,000 samples", "trains on 1,077"],
    ),
    "adam batch_size larger than the training set": (
        text(optimizers="[{name: adam, params: {batch_size: 2000}}]"),
        "optimizers[0].params.batch_size",
        ["minibatches of 2,000 samples", "trains on 1,077", "allowed: 1 to 1,077"],
    ),
    "pretrain batch_size larger than the training set": (
        text(problems="[{name: digits-mlp, init: {pretrain: {epochs: 1, params: {batch_size: 2000}}}}]"),
        "problems[0].init.pretrain.params.batch_size",
        ["minibatches of 2,000", "allowed: 1 to 1,077"],
    ),
    "pretrain shorter than one minibatch": (
        text(problems="[{name: digits-mlp, init: {pretrain: {epochs: 0.01}}}]"),
        "problems[0].init.pretrain.epochs",
        ["0.01 epochs of 1,077 samples do not make one minibatch of 64", "allowed: at least 0.0594"],
    ),
    "budget smaller than one evaluation": (
        text(budget="{samples: 500}"),
        "budget.samples",
        ["500 samples, one evaluation of 'random-search' on 'digits-mlp' costs 1,077", "allowed: at least 1,077"],
    ),
    "entry's budget smaller than one gradient step": (
        text(optimizers="[{name: adam, budget: {samples: 100}}]"),
        "optimizers[0].budget.samples",
        ["100 samples", "costs 192"],
    ),
    "tuning budget smaller than one evaluation": (
        text(tuning="{trials: 2, seeds: [10], budget: {samples: 100}}"),
        "tuning.budget.samples",
        ["100 samples", "costs 1,077"],
    ),
    "digits validation and test sets leave nothing to train on": (
        text(problems="[{name: digits-mlp, params: {n_val: 900, n_test: 900}}]"),
        "problems[0].params",
        ["leaving -3 of the 1,797 digits", "allowed: n_val + n_test at most 1787"],
    ),
    "digits validation set empty": (
        text(problems="[{name: digits-mlp, params: {n_val: 0}}]"),
        "problems[0].params.n_val",
        ["greater than or equal to 10"],
    ),
    "more runs than a suite holds": (
        text(seeds="[" + ", ".join(map(str, range(50_001))) + "]"),
        "suite",
        ["1 problems × 2 optimizers × 50,001 seeds make 100,002 runs", "allowed: at most 100,000"],
    ),
}

THROUGH_CLI = [
    "seed negative",
    "budget seconds .inf",
    "adam lr .inf",
    "de bounds reversed",
    "unknown optimizer",
    "mnist-mlp data missing",
    "cifar10-resnet18 data missing",
    "super_batch on sphere",
    "weight optimizer on a typed problem",
    "non-UTF-8 bytes",
    "empty file",
    "slurm partition not a string",
    "slurm negative GPUs",
    "duplicate nested key",
    "nested 5000 levels",
    "billion laughs",
    "label escaping the folder",
    "super_batch larger than the training set",
    "pretrain shorter than one minibatch",
]
"""Suite cases also run through ``dfo-bench run``, one of each kind of check."""


def bracketed(where: str) -> str:
    """``optimizers.0.x`` read as ``optimizers[0].x``: the tests pin the field, not the index style."""
    return re.sub(r"\.(\d+)(?=[.:])", r"[\1]", where)


def write(tmp_path: Path, content: dict[str, Any] | str | bytes) -> Path:
    path = tmp_path / "suite.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
    return path


def check_line(line: str, path: Path, field: str | None, words: list[str]) -> None:
    """One line, starting with the file and the field, and holding every expected word."""
    assert "\n" not in line and "Traceback" not in line, line
    assert line.startswith(f"{path}: "), f"{line!r} does not name {path}"
    if field is not None:
        assert bracketed(line.removeprefix(f"{path}: ")).startswith(f"{field}: "), f"{line!r} does not name {field}"
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for folders): to see that nothing was written."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_suite_is_one_line_naming_file_and_field(case: str, tmp_path: Path) -> None:
    content, field, words = CASES[case]
    path = write(tmp_path, content)
    before = snapshot(tmp_path)
    with pytest.raises(ConfigError) as error:
        load_suite(path)
    check_line(str(error.value), path, field, words)
    assert snapshot(tmp_path) == before


def test_yaml_a_suite_may_use_still_reads(tmp_path: Path) -> None:
    """Anchors, aliases and merge keys (a key given beside a merge overrides it: no duplicate),
    nesting up to the limit and a file of exactly the size limit."""
    merged = "[{name: de, params: &p {popsize: 8, F: 0.5}}, {name: de, label: de2, params: {<<: *p, F: 0.7}, budget: *b}]"
    content = text(budget="&b {evaluations: 100}", optimizers=merged, problems="[sphere]")
    suite = load_suite(write(tmp_path, content))
    assert [run.optimizer.params.model_dump(include={"popsize", "F"}) for run in suite.runs[::3]] == [
        {"popsize": 8, "F": 0.5},
        {"popsize": 8, "F": 0.7},
    ]
    assert suite.runs[-1].budget.evaluations == 100
    value = read_yaml(write(tmp_path, "x: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH))["x"]  # "nested 33 levels" is refused
    for _ in range(MAX_DEPTH - 1):
        (value,) = value
    assert value == []
    padded = content + "#" * (MAX_BYTES - len(content.encode()) - 1) + "\n"
    assert len(padded.encode()) == MAX_BYTES
    assert load_suite(write(tmp_path, padded)).runs


def test_a_suite_named_after_its_file_needs_a_file_name_that_is_a_suite_name(tmp_path: Path) -> None:
    path = tmp_path / "my suite.yaml"
    path.write_text(yaml.safe_dump(with_changes(name=None, problems=["sphere"])))
    with pytest.raises(ConfigError) as error:
        load_suite(path)
    check_line(str(error.value), path, "name", ["the file's name 'my suite' is not a suite name", "give name:"])
    path.write_text(yaml.safe_dump(with_changes(name="mine", problems=["sphere"])))
    assert load_suite(path).name == "mine"


def dfo_bench(tmp_path: Path, *args: str) -> str:
    """Run the CLI in ``tmp_path``; it must refuse with exit status 2, print nothing on stdout
    (no run started) and one ``error:`` line on stderr, and leave ``tmp_path`` as it was.
    Returns the line without ``error: ``."""
    before = snapshot(tmp_path)
    cli = subprocess.run([*CLI, *args], capture_output=True, text=True, env=cli_env(), cwd=tmp_path)
    assert cli.returncode == 2, cli.stderr
    assert cli.stdout == "", cli.stdout
    assert cli.stderr.count("\n") == 1 and cli.stderr.endswith("\n") and cli.stderr.startswith("error: "), cli.stderr
    assert snapshot(tmp_path) == before, "the CLI wrote files before refusing"
    return cli.stderr.removeprefix("error: ").rstrip("\n")


@pytest.mark.parametrize("case", THROUGH_CLI)
def test_bad_suite_through_the_cli(case: str, tmp_path: Path) -> None:
    content, field, words = CASES[case]
    path = write(tmp_path, content)
    line = dfo_bench(tmp_path, "run", str(path), "--out", str(tmp_path / "results"))
    check_line(line, path, field, words)
    assert not (tmp_path / "results").exists()


def good_suite(tmp_path: Path, **changes: Any) -> Path:
    """A suite that passes validation, on a test function (no data needed)."""
    return write(tmp_path, with_changes(problems=["sphere"], **changes))


def folder(tmp_path: Path, name: str = "results") -> Path:
    (tmp_path / name).mkdir()
    return tmp_path / name


def a_file(tmp_path: Path, name: str = "taken") -> Path:
    (tmp_path / name).write_text("not a folder\n")
    return tmp_path / name


Setup = tuple[Path, list[str]]
"""The path the line must start with, and the CLI's arguments."""


def suite_is_a_folder(t: Path) -> Setup:
    return folder(t), ["run", str(t / "results"), "--out", str(t / "out")]


def suite_does_not_exist(t: Path) -> Setup:
    return t / "nope.yaml", ["run", str(t / "nope.yaml"), "--out", str(t / "out")]


def run_out_is_a_file(t: Path) -> Setup:
    return a_file(t), ["run", str(good_suite(t)), "--out", str(t / "taken")]


def run_out_inside_a_file(t: Path) -> Setup:
    return a_file(t) / "results", ["run", str(good_suite(t)), "--out", str(t / "taken" / "results")]


def run_default_out_is_a_file(t: Path) -> Setup:
    a_file(folder(t), "good")  # results/<suite name>, relative to where the CLI runs
    return Path("results/good"), ["run", str(good_suite(t))]


def report_without_results(t: Path) -> Setup:
    return folder(t), ["report", str(t / "results"), "--out", str(t / "report")]


def report_on_a_file(t: Path) -> Setup:
    return a_file(t), ["report", str(t / "taken"), "--out", str(t / "report")]


def report_on_a_missing_folder(t: Path) -> Setup:
    return t / "absent", ["report", str(t / "absent"), "--out", str(t / "report")]


def report_out_is_a_file(t: Path) -> Setup:
    return a_file(t), ["report", str(folder(t)), "--out", str(t / "taken")]


def run_options_of_two_kinds(t: Path) -> Setup:
    path = good_suite(t)
    return path, ["run", str(path), "--out", str(t / "results"), "--executor", "slurm", "--address", "tcp://host:8786"]


def status_on_a_file(t: Path) -> Setup:
    return a_file(t), ["status", str(t / "taken")]


def status_on_a_missing_folder(t: Path) -> Setup:
    return t / "absent", ["status", str(t / "absent")]


COMMANDS = {
    # case: (setup in tmp_path, the field the line names after the path, words it holds)
    "suite is a folder": (suite_is_a_folder, None, ["cannot read", "Is a directory"]),
    "suite does not exist": (suite_does_not_exist, None, ["cannot read", "No such file"]),
    "run --out is a file": (run_out_is_a_file, "--out", ["is a file", "allowed: a folder"]),
    "run --out inside a file": (run_out_inside_a_file, "--out", ["which is a file", "allowed: a folder"]),
    "run default out is a file": (run_default_out_is_a_file, "--out", ["is a file"]),
    "report on a folder without results": (report_without_results, None, ["no stored results", "run a suite first"]),
    "report on a file": (report_on_a_file, "RESULTS", ["is a file", "allowed: a results folder"]),
    "report on a missing folder": (report_on_a_missing_folder, None, ["no stored results"]),
    "report --out is a file": (report_out_is_a_file, "--out", ["is a file", "allowed: a folder"]),
    "run --address with --executor slurm": (
        run_options_of_two_kinds,
        "executor.address",
        ["a field of kind dask, not of slurm", "with the command line's options"],
    ),
    "status on a file": (status_on_a_file, "RESULTS", ["is a file", "allowed: a results folder"]),
    "status on a missing folder": (status_on_a_missing_folder, "RESULTS", ["no such folder"]),
}


@pytest.mark.parametrize("case", list(COMMANDS))
def test_bad_command_line_is_one_line(case: str, tmp_path: Path) -> None:
    make, field, words = COMMANDS[case]
    path, args = make(tmp_path)
    line = dfo_bench(tmp_path, *args)
    check_line(line, path, field, words)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_suite_on_a_machine_without_cuda_is_refused_up_front(tmp_path: Path) -> None:
    path = good_suite(tmp_path, device="cuda")
    line = dfo_bench(tmp_path, "run", str(path), "--out", str(tmp_path / "results"))
    check_line(line, path, "device", ["cuda was asked for", "allowed on this machine: auto, cpu"])


@pytest.mark.parametrize(
    "args, words",
    [
        (["--workers", "0"], ["'--workers'", "0 is not in the range"]),
        (["--workers", "two"], ["'--workers'", "'two' is not a valid integer"]),
        (["--bogus"], ["No such option '--bogus'"]),
        (["--executor", "cluster"], ["'--executor'", "'cluster' is not one of 'sequential', 'process', 'dask', 'slurm'"]),
        (["--gpus-per-run", "-1"], ["'--gpus-per-run'", "-1 is not in the range x>=0"]),
        (["--cluster", "pbs"], ["'--cluster'", "'pbs' is not one of 'slurm', 'local'"]),
    ],
    ids=["workers 0", "workers not a number", "unknown option", "executor unknown", "negative GPUs", "cluster unknown"],
)
def test_bad_option_is_one_line(args: list[str], words: list[str], tmp_path: Path) -> None:
    line = dfo_bench(tmp_path, "run", str(good_suite(tmp_path)), "--out", str(tmp_path / "results"), *args)
    for word in [*words, "run --help"]:
        assert word in line, f"{word!r} not in {line!r}"


# What the store refuses: names that cannot be files of the results folder. The suite's checks
# may refuse some of them first (with the suite file and field); either way: one line, exit 2,
# nothing written, nothing outside the folder.

LABELS = {
    # case: (the entries' labels, a word the line holds)
    "label reaching out of the folder": (["../../../escaped"], "escaped"),
    "label with a slash": (["adam/tuned"], "adam/tuned"),
    "label too long for a file name": (["x" * 250], "x" * 40),
    "labels that differ only in case": (["RS", "rs"], "case"),
}


@pytest.mark.parametrize("case", list(LABELS))
def test_a_label_that_cannot_be_a_file_name_is_refused_before_anything_is_written(case: str, tmp_path: Path) -> None:
    labels, word = LABELS[case]
    optimizers = [{"name": "random-search", "label": label} for label in labels]
    line = dfo_bench(
        tmp_path, "run", str(good_suite(tmp_path, optimizers=optimizers)), "--out", str(tmp_path / "deep" / "results")
    )
    assert word in line, line
    assert not (tmp_path / "deep").exists()


def test_a_label_that_differs_from_a_stored_runs_only_in_case_is_refused(tmp_path: Path) -> None:
    first = good_suite(tmp_path, optimizers=[{"name": "random-search", "label": "rs"}])
    ran = subprocess.run(
        [*CLI, "run", str(first), "--out", str(tmp_path / "results"), "--quiet"], env=cli_env(), capture_output=True
    )
    assert ran.returncode == 0, ran.stderr
    second = write(tmp_path, with_changes(problems=["sphere"], optimizers=[{"name": "random-search", "label": "RS"}]))
    line = dfo_bench(tmp_path, "run", str(second), "--out", str(tmp_path / "results"))
    check_line(line, tmp_path / "results", None, ["'sphere__RS__seed0__", "differ only in case"])


# Results folders with damaged files: each is a warning line (stderr) and the rest is reported;
# with --strict, one error line and exit 2.


def damaged_results(tmp_path: Path) -> tuple[Path, list[Path]]:
    """Six stored runs (two optimizers × three seeds) of which one is cut short, a stray file in
    ``runs/``, a study record that is not JSON; the folder and the damaged files."""
    results = synthetic_results(tmp_path, ["p"], ["a", "b"], [0, 1, 2], lambda p, o, s: 0.6 + 0.1 * (o == "a"))
    cut = sorted((results / "runs").glob("p__a__seed1__*.parquet"))[0]
    cut.write_bytes(cut.read_bytes()[:300])
    (results / "runs" / "notes.txt").write_text("to do\n")
    (results / "tuning").mkdir()
    (results / "tuning" / "p__a__00000000.json").write_text("{")
    return results, [cut, results / "runs" / "notes.txt", results / "tuning" / "p__a__00000000.json"]


def warnings(stderr: str) -> dict[str, str]:
    """The warning lines, by the path they name."""
    found = {}
    for line in stderr.splitlines():
        assert line.startswith(("warning: ", "note: ")), f"not a warning: {line!r}"
        if line.startswith("warning: "):
            path, _, reason = line.removeprefix("warning: ").partition(": ")
            found[path] = reason
    return found


def test_report_leaves_a_damaged_file_out_with_one_warning_each_and_reports_the_rest(tmp_path: Path) -> None:
    results, damaged = damaged_results(tmp_path)
    done = subprocess.run(
        [*CLI, "report", str(results), "--out", str(tmp_path / "report"), "--format", "latex"],
        capture_output=True,
        text=True,
        env=cli_env(),
    )
    assert done.returncode == 0, done.stderr
    found = warnings(done.stderr)
    assert sorted(found) == sorted(map(str, damaged)), done.stderr
    assert found[str(damaged[0])].startswith("unreadable Parquet (") and found[str(damaged[0])].endswith("; left out")
    assert found[str(damaged[1])] == "not a run file; left out"
    assert found[str(damaged[2])].startswith("unreadable study record (")
    seeds = pd.read_csv(tmp_path / "report" / "summary.csv").set_index("optimizer")["seeds_ok"]
    assert seeds.to_dict() == {"a": 2, "b": 3}


@pytest.mark.parametrize("command", ["report", "status"])
def test_strict_refuses_a_folder_with_damaged_files_in_one_line(command: str, tmp_path: Path) -> None:
    results, damaged = damaged_results(tmp_path)
    out = ["--out", str(tmp_path / "report")] if command == "report" else []
    line = dfo_bench(tmp_path, command, str(results), *out, "--strict")
    first = sorted(damaged)[0]
    check_line(line, first, None, ["(and 2 more damaged files)", "--strict", "allowed: a results folder without damaged files"])


def test_strict_passes_a_folder_without_damaged_files(tmp_path: Path) -> None:
    results = synthetic_results(tmp_path, ["p"], ["a"], [0], lambda p, o, s: 0.8)
    shown = subprocess.run([*CLI, "status", str(results), "--strict"], capture_output=True, text=True, env=cli_env())
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr


def test_status_lists_damaged_files_and_counts_the_rest(tmp_path: Path) -> None:
    results, damaged = damaged_results(tmp_path)
    shown = subprocess.run([*CLI, "status", str(results)], capture_output=True, text=True, env=cli_env())
    assert shown.returncode == 0, shown.stderr
    assert sorted(warnings(shown.stderr)) == sorted(map(str, damaged))
    assert shown.stdout.splitlines()[-1].split() == ["total", "5", "0", "0", "0"]


def test_report_on_a_folder_whose_every_run_file_is_damaged_is_one_line(tmp_path: Path) -> None:
    results = tmp_path / "results"
    (results / "runs").mkdir(parents=True)
    (results / "runs" / "x.parquet").write_bytes(b"PAR1 cut short")
    line = dfo_bench(tmp_path, "report", str(results), "--out", str(tmp_path / "report"))
    check_line(line, results, None, ["no stored results (1 damaged files left out, e.g. ", "x.parquet: unreadable Parquet"])


def test_run_runs_again_a_run_whose_file_is_damaged(tmp_path: Path) -> None:
    suite = good_suite(tmp_path)
    command = [*CLI, "run", str(suite), "--out", str(tmp_path / "results"), "--quiet"]
    assert subprocess.run(command, capture_output=True, env=cli_env()).returncode == 0
    cut = sorted((tmp_path / "results" / "runs").glob("*.parquet"))[0]
    cut.write_bytes(b"")
    again = subprocess.run(command, capture_output=True, text=True, env=cli_env())
    assert again.returncode == 0, again.stderr
    assert warnings(again.stderr) == {str(cut): "unreadable Parquet (Parquet file size is 0 bytes); it runs again"}
    assert "5 already stored, 1 to run" in again.stdout and "1 ok, 0 failed" in again.stdout
    assert pd.read_parquet(cut)["status"].iloc[0] == "ok"
