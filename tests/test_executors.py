"""Executors as a user meets them: the same stored metrics, bit for bit, from every engine
(sequential, process pool, a real Dask LocalCluster, submitit's real local mode), a worker killed mid-run, Ctrl-C and
SIGTERM on ``dfo-bench run``, ``dfo-bench status``, and the sbatch script submitit would write.

Every test that starts processes runs them in a session of their own and kills whatever is left
of it at the end; signals go only to processes the test started.
"""

from __future__ import annotations

import os
import random
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from dfo_bench.executors import RunSummary, SequentialExecutor, make_executor, run_suite
from dfo_bench.executors.base import lost
from dfo_bench.record import failed_result
from dfo_bench.store import ResultStore
from dfo_bench.suite import ExecutorConfig, load_suite
from dfo_bench.testing import stored_outcomes
from tests.conftest import CLI, ENGINES, cli_env

pytest.importorskip("distributed")
pytest.importorskip("submitit")

SUITE: dict[str, Any] = {
    "name": "engines",
    "problems": ["digits-mlp"],
    "optimizers": ["random-search", {"name": "de", "params": {"popsize": 8}}],
    "seeds": [0, 1],
    "budget": {"evaluations": 60},
    "checkpoints": 20,
}
LONGER = {**SUITE, "budget": {"evaluations": 6000}}
"""4 runs of about a second each: long enough to be cut mid-way."""


def engine(suite_file: Path, name: str) -> Any:
    suite = load_suite(suite_file)
    return suite, make_executor(ExecutorConfig(**ENGINES[name]), suite)


def leftovers(root: Path) -> list[str]:
    """Half-written files and running markers: none may remain once a suite has stopped."""
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.name.endswith(".tmp") or p.parent.name == "running"]


def test_every_engine_stores_the_same_metrics_as_sequential(write_suite, tmp_path: Path) -> None:
    suite_file = write_suite(SUITE)
    suite = load_suite(suite_file)
    run_suite(suite, tmp_path / "sequential", SequentialExecutor(), progress=False)
    expected = stored_outcomes(tmp_path / "sequential")
    assert len(expected["run_id"].unique()) == 4
    for name in ENGINES:
        suite, executor = engine(suite_file, name)
        summaries = run_suite(suite, tmp_path / name, executor, progress=False)
        assert sorted(s.run_id for s in summaries) == sorted(spec.run_id for spec in suite.runs), name
        assert {s.status for s in summaries} == {"ok"}, [s.error for s in summaries]
        pd.testing.assert_frame_equal(stored_outcomes(tmp_path / name), expected, obj=name, check_exact=True)
        assert leftovers(tmp_path / name) == [], name
        # stored runs are skipped whatever the engine: nothing is started again
        assert run_suite(suite, tmp_path / name, executor, progress=False) == []


def kill_first_run(root: Path, killed: list[str], stop: threading.Event) -> None:
    """SIGKILL the worker of the first run seen running (its pid is in the run's marker)."""
    store = ResultStore(root)
    while not stop.is_set():
        markers = [m for m in store.running_markers() if m.pid != os.getpid()]
        if markers:
            time.sleep(0.3)  # mid-run, not while it starts
            os.kill(markers[0].pid, signal.SIGKILL)
            killed.append(markers[0].run_id)
            return
        time.sleep(0.02)


def run_killing_one_worker(suite: Any, out: Path, executor: Any) -> tuple[list[RunSummary], str]:
    """Run the suite while the worker of its first run is SIGKILLed mid-run; the summaries and the killed run's id."""
    killed: list[str] = []
    stop = threading.Event()
    killer = threading.Thread(target=kill_first_run, args=(out, killed, stop), daemon=True)
    killer.start()
    try:
        summaries = run_suite(suite, out, executor, progress=False)
    finally:
        stop.set()
        killer.join()
    assert len(killed) == 1, "no worker was killed"
    return summaries, killed[0]


@pytest.mark.parametrize("name", ["process", "dask"])
def test_worker_killed_mid_run_is_run_again_and_the_others_finish(name: str, write_suite, tmp_path: Path, capfd) -> None:
    suite, executor = engine(write_suite({**LONGER, "budget": {"evaluations": 10000}, "seeds": [0]}), name)
    out = tmp_path / "results"
    summaries, killed = run_killing_one_worker(suite, out, executor)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenProcessPool" not in err, err
    if name == "process":  # dask's scheduler runs the task again itself, silently
        lines = [line for line in err.splitlines() if killed in line]
        assert len(lines) == 1 and "killed by SIGKILL" in lines[0] and "running it again (retry 1 of 1)" in lines[0], err
    assert sorted(s.run_id for s in summaries) == sorted(spec.run_id for spec in suite.runs)
    assert {s.status for s in summaries} == {"ok"}, [s.error for s in summaries]
    assert ResultStore(out).load()["run_id"].nunique() == 2
    assert leftovers(out) == []


def test_run_whose_job_dies_every_time_is_stored_as_failed_and_a_rerun_completes(write_suite, tmp_path: Path, capfd) -> None:
    """submitit's local mode, no retries: the killed run's job ends without a result, the run is
    stored as failed with the reason, the other run finishes; ``--retry-failed`` completes it."""
    suite = load_suite(write_suite({**LONGER, "budget": {"evaluations": 10000}, "seeds": [0]}))
    out = tmp_path / "results"
    executor = make_executor(ExecutorConfig(**ENGINES["submitit-local"], retries=0), suite)
    summaries, killed = run_killing_one_worker(suite, out, executor)
    assert "Traceback" not in capfd.readouterr().err
    failed = [s for s in summaries if s.status == "failed"]
    assert [s.run_id for s in failed] == [killed]
    assert re.fullmatch(r"its job \d+ ended without a result \(\w+\), 1 times", failed[0].error or ""), failed[0].error
    assert ResultStore(out).status(killed) == "failed" and leftovers(out) == []
    assert [s.status for s in summaries if s.run_id != killed] == ["ok"]
    again = run_suite(suite, out, SequentialExecutor(), retry_failed=True, progress=False)
    assert [(s.run_id, s.status) for s in again] == [(killed, "ok")]


def session_processes(sid: int) -> list[int]:
    """Live processes of the session ``sid`` (what a suite started in its own session left)."""
    pids = []
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = path.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] not in "ZX":
            pids.append(int(path.parent.name))
    return pids


def kill_session(sid: int) -> None:
    for pid in session_processes(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_for(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def interrupt(
    command: list[str], out: Path, signum: int, delay: float, patterns: tuple[str, ...] = ("running/*.json", "runs/*.parquet")
) -> tuple[int, str, int]:
    """Start the suite, wait for its first run to start (a file of ``patterns`` in ``out``), wait
    ``delay`` more, send the signal (Ctrl-C to the whole process group, as a terminal does; SIGTERM
    to the suite's process, as ``kill`` does). Returns the exit status, stderr, and how many
    processes of its session outlived it by 5 seconds."""
    proc = subprocess.Popen(
        command, env=cli_env(), start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        started = wait_for(lambda: any(next(out.glob(pattern), None) for pattern in patterns), 90)
        assert started, "no run started"
        time.sleep(delay)
        if signum == signal.SIGINT:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        wait_for(lambda: not session_processes(proc.pid), 5)
        return proc.returncode, err, len(session_processes(proc.pid))
    finally:
        kill_session(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_stopped_tuned_suite_counts_its_tuned_entrys_runs(write_suite, tmp_path: Path) -> None:
    """A tuned entry's runs are known as its study goes; the stop line counts the most it may
    need (3 trials on 1 tuning seed + 2 seeds, for each of the two entries) and every run stored,
    tuning runs included."""
    tuning = {"trials": 3, "sampler": "random", "seeds": [10], "metric": "val_accuracy"}
    suite_file = write_suite({**LONGER, "executor": ENGINES["process"], "tuning": tuning})
    out = tmp_path / "results"
    status, err, _ = interrupt([*CLI, "run", str(suite_file), "--out", str(out), "--quiet"], out, signal.SIGTERM, 2.0)
    assert status == 128 + signal.SIGTERM, err
    found = re.fullmatch(
        r"engines: stopped by SIGTERM: (\d+) of at most 10 runs stored \((\d+) in this session\), (\d+) not run; .*",
        err.strip().splitlines()[-1],
    )
    assert found, err
    assert int(found[1]) == int(found[2]) == len(list(out.glob("runs/*.parquet"))) and int(found[3]) == 10 - int(found[1])


def test_a_stopped_retry_of_failed_runs_counts_them_as_not_stored(write_suite, tmp_path: Path) -> None:
    """With ``--retry-failed`` a stored failed run is owed again: the stop line counts it as not
    stored, as the first line did (it counted every stored file, failed ones as stored in this session)."""
    suite_file = write_suite({**LONGER, "executor": ENGINES["process"]})
    out = tmp_path / "results"
    store = ResultStore(out)
    for spec in load_suite(suite_file).runs[2:]:
        store.write(failed_result(spec, "failed before"))
    command = [*CLI, "run", str(suite_file), "--out", str(out), "--retry-failed", "--quiet"]
    status, err, _ = interrupt(command, out, signal.SIGTERM, 0.0, patterns=("running/*.json",))
    assert status == 128 + signal.SIGTERM, err
    found = re.fullmatch(
        r"engines: stopped by SIGTERM: (\d+) of 4 runs stored \((\d+) in this session\), (\d+) not run; .*",
        err.strip().splitlines()[-1],
    )
    assert found, err
    ok = sum(1 for run in ResultStore(out).stored_runs() if run.status == "ok")
    assert (int(found[1]), int(found[2]), int(found[3])) == (ok, ok, 4 - ok)


@pytest.mark.parametrize(
    "name, signals",
    [("process", [signal.SIGINT, signal.SIGTERM]), ("dask", [signal.SIGTERM]), ("submitit-local", [signal.SIGINT])],
)
def test_signals_stop_the_suite_cleanly_and_a_rerun_completes_it(
    name: str, signals: list[int], write_suite, tmp_path: Path
) -> None:
    suite_file = write_suite({**LONGER, "executor": ENGINES[name]})
    out = tmp_path / "results"
    command = [*CLI, "run", str(suite_file), "--out", str(out), "--quiet"]
    moments = random.Random(f"{name}{signals}")
    for signum in signals:
        status, err, left = interrupt(command, out, signum, moments.uniform(0.0, 2.0))
        name_of = signal.Signals(signum).name
        assert status == 128 + signum, err
        assert "Traceback" not in err, err
        last = err.strip().splitlines()[-1]
        found = re.fullmatch(
            rf"engines: stopped by {name_of}: (\d+) of 4 runs stored \((\d+) in this session\), (\d+) not run; .*", last
        )
        assert found, err
        assert int(found[1]) == len(list(out.glob("runs/*.parquet"))) and int(found[3]) == 4 - int(found[1])
        assert left == 0, "processes of the suite outlived it"
        assert leftovers(out) == []
        if name == "process" and signum == signals[0] and found[1] != "4":
            shown = subprocess.run([*CLI, "status", str(out)], capture_output=True, text=True, env=cli_env())
            total = shown.stdout.splitlines()[-1].split()
            assert shown.returncode == 0 and total == ["total", found[1], "0", "0", str(4 - int(found[1]))], shown.stdout
    resumed = subprocess.run([*command, "--sequential"], capture_output=True, text=True, env=cli_env(), timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    suite = load_suite(suite_file)
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(f"{s.run_id}.parquet" for s in suite.runs)
    results = ResultStore(out).load()
    assert (results.groupby("run_id")["checkpoint"].apply(lambda c: list(c) == list(range(len(c))))).all()
    assert (results["status"] == "ok").all() and leftovers(out) == []


def test_status_counts_done_failed_running_and_pending_per_optimizer(write_suite, tmp_path: Path) -> None:
    suite = load_suite(write_suite(SUITE))
    out = tmp_path / "results"
    first = suite.runs[0]
    run_suite(suite, out, SequentialExecutor(), progress=False)
    store = ResultStore(out)
    for spec in suite.runs[1:3]:
        store.path(spec.run_id).unlink()
    store.claim(suite.runs[1], owner="another suite")  # a worker at work on it
    store.write(lost(first, "its worker killed by SIGKILL").result)  # type: ignore[arg-type]
    shown = subprocess.run([*CLI, "status", str(out)], capture_output=True, text=True, env=cli_env())
    assert shown.returncode == 0, shown.stderr
    rows = {line.split()[0]: line.split()[1:] for line in shown.stdout.splitlines()}
    assert rows["optimizer"] == ["done", "failed", "running", "pending"]
    assert rows["random-search"] == ["0", "1", "1", "0"]
    assert rows["de[popsize=8]"] == ["1", "0", "0", "1"]
    assert rows["total"] == ["1", "1", "1", "1"]


def test_sbatch_script_submitit_would_write_holds_the_requested_resources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Slurm here: an ``srun`` that does nothing on PATH lets submitit build its Slurm executor,
    which only writes the script text (nothing is submitted)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "srun").chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config = {
        "kind": "slurm",
        "partition": "gpu",
        "time_min": 90,
        "cpus_per_run": 4,
        "gpus_per_run": 1,
        "mem_gb": 16,
        "array_parallelism": 3,
        "slurm_qos": "high",
        "slurm_account": "dfo",
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({**SUITE, "seeds": [0, 1, 2, 3, 4], "executor": config}))
    suite = load_suite(path)
    executor = make_executor(suite.config.executor, suite)
    submitter = executor.submitter(tmp_path / "slurm" / "%j")  # type: ignore[attr-defined]
    slurm = submitter._executor
    slurm.parameters["map_count"] = len(suite.runs)  # what map_array sets for one array of the suite's runs
    script = slurm._make_submission_file_text("python -m submitit.core._submit folder", "uid")
    for line in [
        "#SBATCH --partition=gpu",
        "#SBATCH --time=90",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --mem=16GB",
        "#SBATCH --array=0-9%3",
        "#SBATCH --qos=high",
        "#SBATCH --account=dfo",
        "#SBATCH --job-name=dfo-bench-engines",
        "#SBATCH --signal=USR2@90",
    ]:
        assert line in script.splitlines(), f"{line} not in\n{script}"


def test_dask_scheduler_by_address_with_results_returned_to_the_client(write_suite, tmp_path: Path, monkeypatch, capfd) -> None:
    """An existing scheduler (``address``) whose workers do not see the results folder: they
    return the results and the client stores them, the same as a sequential run's."""
    from distributed import LocalCluster

    import dfo_bench.executors.dask as dask_executor

    suite = load_suite(write_suite(SUITE))
    run_suite(suite, tmp_path / "sequential", SequentialExecutor(), progress=False)
    monkeypatch.setattr(dask_executor, "sees_folder", lambda client, root: False)  # as on machines without the shared folder
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        executor = make_executor(ExecutorConfig(kind="dask", address=cluster.scheduler_address), suite)
        summaries = run_suite(suite, tmp_path / "returned", executor, progress=False)
    assert all(s.result is not None and s.status == "ok" for s in summaries)
    assert f"dask scheduler {cluster.scheduler_address}: the workers do not see the results folder" in capfd.readouterr().err
    pd.testing.assert_frame_equal(
        stored_outcomes(tmp_path / "returned"), stored_outcomes(tmp_path / "sequential"), check_exact=True
    )
    assert leftovers(tmp_path / "returned") == []


def at_once(command: list[str], runs: int) -> None:
    """Start ``command`` twice together: both must exit 0, and between them run each of ``runs``
    runs exactly once, each leaving to the other what the other ran."""
    both = [subprocess.Popen(command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [proc.communicate(timeout=120) for proc in both]
    ran, left = [], []
    for proc, (stdout, stderr) in zip(both, outputs, strict=True):
        assert proc.returncode == 0, stderr
        last = stdout.splitlines()[-1]
        found = re.fullmatch(
            r"\S+: (\d+) ok, 0 failed(?:, (\d+) runs left to another process on this folder)?; results in .*", last
        )
        assert found, stdout
        ran.append(int(found[1]))
        left.append(int(found[2] or 0))
    assert sum(ran) == runs, f"runs executed {ran} times by the two suites: some twice, or not at all"
    assert sum(left) > 0, "the two suites did not overlap: nothing was left to the other"


def test_two_suites_started_at_once_on_one_folder_run_each_run_once(write_suite, tmp_path: Path) -> None:
    """Two ``dfo-bench run`` of one suite on one folder, started together: each worker claims its
    run first, so every run is executed by one of them (their ok counts add up to the runs), the
    other leaves it (``runs left to another process``), and both exit 0."""
    suite_file = write_suite({**SUITE, "seeds": [0, 1, 2], "budget": {"evaluations": 3000}, "executor": "sequential"})
    out = tmp_path / "results"
    command = [*CLI, "run", str(suite_file), "--out", str(out), "--quiet"]
    at_once(command, 6)
    suite = load_suite(suite_file)
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(f"{s.run_id}.parquet" for s in suite.runs)
    assert set(ResultStore(out).load()["status"]) == {"ok"} and leftovers(out) == []
    again = subprocess.run(command, capture_output=True, text=True, env=cli_env(), timeout=60)
    assert again.returncode == 0 and "6 already stored, 0 to run" in again.stdout, again.stderr


def test_two_tuned_suites_at_once_wait_for_each_others_runs_and_choose_as_one_alone(write_suite, tmp_path: Path) -> None:
    """A study scores each trial from its stored runs: a run the other suite holds is waited for,
    not scored as missing, so both choose what one suite alone chooses."""
    tuned = {
        **SUITE,
        "optimizers": ["random-search"],
        "seeds": [0],
        "budget": {"evaluations": 1000},
        "executor": "sequential",
        "tuning": {"trials": 3, "sampler": "tpe", "seeds": [100, 101], "metric": "val_accuracy", "budget": {"evaluations": 800}},
    }
    suite_file = write_suite(tuned)
    at_once([*CLI, "run", str(suite_file), "--out", str(tmp_path / "shared"), "--quiet"], 3 * 2 + 1)
    alone = subprocess.run(
        [*CLI, "run", str(suite_file), "--out", str(tmp_path / "alone"), "--quiet"], env=cli_env(), timeout=120
    )
    assert alone.returncode == 0
    (shared_record,), (alone_record,) = ResultStore(tmp_path / "shared").studies(), ResultStore(tmp_path / "alone").studies()
    assert [t.state for t in shared_record.trials] == ["complete"] * 3
    assert shared_record == alone_record


def test_a_starting_worker_imports_nothing_heavy_before_it_ignores_ctrl_c() -> None:
    """A spawned worker unpickles the pool's initializer before pebble makes it ignore SIGINT: if
    that import pulled in torch (seconds), a Ctrl-C meanwhile would print a worker's traceback."""
    from dfo_bench.executors.local import worker_started

    module = worker_started.__module__
    code = f"import sys, {module}; heavy = {{'torch', 'dfo_bench.executors', 'dfo_bench.runner'}} & set(sys.modules); print(sorted(heavy))"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), timeout=60)
    assert shown.returncode == 0 and shown.stdout.strip() == "[]", shown.stdout + shown.stderr
