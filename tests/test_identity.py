"""Same seed, same results, bit for bit, on one machine: in this process (``check_deterministic`` in
test_optimizers, test_hpo, test_multiobjective), in a fresh process (here), and whatever the
engine (test_executors). Values recorded on another machine agree only to float rounding, so the
tests that hold runs to them use tolerances (test_core, test_mo_hpo)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pandas as pd

from dfo_bench.executors import SequentialExecutor, run_suite
from dfo_bench.suite import load_suite
from dfo_bench.testing import stored_outcomes
from tests.conftest import CLI, cli_env

SUITE = {
    "name": "identity",
    "problems": ["digits-mlp"],
    "optimizers": [{"name": "hbde", "params": {"popsize": 8}}, {"name": "random-search", "params": {"popsize": 8}}],
    "seeds": [0],
    "budget": {"evaluations": 96},
    "executor": "sequential",
}
"""Selection on super-batches in the blocks space, and Gaussian samples in the full space: every
stream a run draws (split, initial weights, batches, the optimizer's), in a fraction of a second."""


def test_a_suite_run_again_in_a_fresh_process_stores_the_same_results_bit_for_bit(write_suite, tmp_path: Path) -> None:
    """The fresh process has another string-hash seed: a stream seeded from ``hash()`` or from the
    iteration order of a set of strings would differ there, and not between two runs in one process."""
    path = write_suite(SUITE)
    run_suite(load_suite(path), tmp_path / "here", SequentialExecutor(), progress=False)
    other_hash_seed = "1" if os.environ.get("PYTHONHASHSEED") == "0" else "0"
    done = subprocess.run(
        [*CLI, "run", str(path), "--out", str(tmp_path / "fresh"), "--quiet"],
        capture_output=True,
        text=True,
        env=cli_env(PYTHONHASHSEED=other_hash_seed),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    here = stored_outcomes(tmp_path / "here")
    assert here["run_id"].nunique() == 2 and (here["status"] == "ok").all()
    pd.testing.assert_frame_equal(stored_outcomes(tmp_path / "fresh"), here, check_exact=True)
