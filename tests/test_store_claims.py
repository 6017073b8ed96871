"""Claims on runs: of the processes that claim one run at once, one gets it; a live claim is left
to its holder; a stale one (its process gone on this host, no heartbeat for ``stale_after`` on
another, or an earlier attempt of the same suite) is taken over; a claim is released by its
holder alone. ``dfo-bench run`` twice at once on one folder is in ``test_executors``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dfo_bench.executors import CLAIMED, RunTask
from dfo_bench.spec import RunSpec
from dfo_bench.store import Claim, ResultStore, RunningMarker
from dfo_bench.store.claims import read_marker, take_over
from tests.report_data import specs, trace, write_run


@pytest.fixture
def spec(tmp_path: Path) -> RunSpec:
    (first,) = specs(tmp_path, ["p"], ["a"], [0])
    return first


def marker_of(store: ResultStore, spec: RunSpec) -> Path:
    return store.root / "running" / f"{spec.run_id}.json"


def held_by(store: ResultStore, spec: RunSpec, host: str, pid: int, owner: str = "another suite", age: float = 0.0) -> None:
    """A claim as another worker leaves it, its last heartbeat ``age`` seconds ago."""
    path = marker_of(store, spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    given = {"run_id": spec.run_id, "problem_label": "p", "optimizer_label": "a", "host": host, "pid": pid, "started_at": "x"}
    path.write_text(json.dumps(given | {"owner": owner, "token": "theirs"}))
    if age:
        then = time.time() - age
        os.utime(path, (then, then))


@pytest.fixture
def live_pid():
    """A live process of this host that is not this one."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield sleeper.pid
    sleeper.kill()
    sleeper.wait()


def test_of_threads_claiming_one_run_at_once_exactly_one_gets_it(spec: RunSpec, tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results")
    got: list[Claim | RunningMarker] = []
    start = threading.Barrier(8)

    def claim(owner: str) -> None:
        start.wait()
        got.append(store.claim(spec, owner))

    threads = [threading.Thread(target=claim, args=(f"suite {i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claims = [g for g in got if isinstance(g, Claim)]
    assert len(claims) == 1 and len(got) == 8
    (claim,) = claims
    assert {g.token for g in got if isinstance(g, RunningMarker)} == {claim.token}
    assert [p.name for p in marker_of(store, spec).parent.iterdir()] == [f"{spec.run_id}.json"], "a temporary file was left"


def test_a_live_claim_is_left_to_its_holder_and_released_by_it_alone(spec: RunSpec, tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results")
    mine = store.claim(spec, "this suite")
    assert isinstance(mine, Claim)
    theirs = store.claim(spec, "another suite")
    assert isinstance(theirs, RunningMarker) and (theirs.host, theirs.pid, theirs.owner) == (
        socket.gethostname(),
        os.getpid(),
        "this suite",
    )
    assert store.holder(spec.run_id, "another suite") == theirs and store.holder(spec.run_id, "this suite") is None
    store.release(spec.run_id, "another suite")  # not its claim: nothing happens
    assert marker_of(store, spec).exists()
    with mine:
        pass
    assert not marker_of(store, spec).exists() and store.holder(spec.run_id, "another suite") is None


def test_a_claim_of_a_dead_process_on_this_host_is_taken_over_at_once(spec: RunSpec, tmp_path: Path, live_pid: int) -> None:
    store = ResultStore(tmp_path / "results")
    held_by(store, spec, socket.gethostname(), live_pid)
    assert isinstance(store.claim(spec, "this suite"), RunningMarker)
    held_by(store, spec, socket.gethostname(), 999_999_999)
    claim = store.claim(spec, "this suite")
    assert isinstance(claim, Claim)
    assert json.loads(marker_of(store, spec).read_text())["token"] == claim.token


def test_another_hosts_claim_is_taken_over_once_its_heartbeat_is_older_than_stale_after(spec: RunSpec, tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results", stale_after=60)
    held_by(store, spec, "another-host", 1, age=50)
    assert isinstance(store.claim(spec, "this suite"), RunningMarker)
    held_by(store, spec, "another-host", 1, age=70)
    assert store.holder(spec.run_id, "this suite") is None
    assert isinstance(store.claim(spec, "this suite"), Claim)


def test_an_earlier_attempt_of_the_same_suite_is_taken_over(spec: RunSpec, tmp_path: Path, live_pid: int) -> None:
    """The executor gave the attempt up (its worker died on another node, its job was requeued):
    the same suite runs it again, and stores it in its place (``release``) when it gives up too."""
    store = ResultStore(tmp_path / "results")
    held_by(store, spec, "another-host", 1, owner="this suite")
    assert isinstance(store.claim(spec, "this suite"), Claim)
    held_by(store, spec, "another-host", 1, owner="this suite")
    store.release(spec.run_id, "this suite")
    assert not marker_of(store, spec).exists()


def test_a_marker_that_is_no_claim_is_taken_over(spec: RunSpec, tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results")
    marker_of(store, spec).parent.mkdir(parents=True)
    marker_of(store, spec).write_text("{}")
    assert isinstance(store.claim(spec, "this suite"), Claim)


def test_the_holder_touches_its_claim_while_it_runs_and_stops_once_taken_over(spec: RunSpec, tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results", stale_after=0.5)  # a heartbeat every 25 ms
    claim = store.claim(spec, "this suite")
    assert isinstance(claim, Claim)
    path = marker_of(store, spec)
    then = time.time() - 3600
    os.utime(path, (then, then))
    with claim:
        time.sleep(0.3)
        assert time.time() - path.stat().st_mtime < 1, "no heartbeat"
        assert isinstance(store.claim(spec, "another suite"), RunningMarker)
        held_by(store, spec, "another-host", 1, age=3600)  # taken over by another suite meanwhile
        time.sleep(0.3)
        assert time.time() - path.stat().st_mtime > 3000, "touched a claim that is no longer its own"
    assert json.loads(path.read_text())["token"] == "theirs", "released a claim that is no longer its own"


def test_a_worker_skips_a_run_stored_by_the_time_it_holds_the_claim(tmp_path: Path) -> None:
    """Another suite stored it after this one listed its pending runs: not run again (unless
    failed runs are retried)."""
    ok, failed = specs(tmp_path, ["p"], ["a"], [0, 1], evaluations=100)
    store = ResultStore(tmp_path / "results")
    write_run(store.root, ok, trace(0.9))
    write_run(store.root, failed, trace(0.5), error="RuntimeError: diverged")
    task = RunTask(store)
    assert [(s.status, s.error) for s in map(task, [ok, failed])] == [(CLAIMED, "stored meanwhile by another process")] * 2
    retried = RunTask(store, retry_failed=True)(failed)
    assert retried.status == "ok" and store.status(failed.run_id) == "ok"
    assert not list((store.root / "running").iterdir())


def test_taking_over_a_stale_claim_that_another_process_took_over_first_leaves_theirs(spec: RunSpec, tmp_path: Path) -> None:
    """Two processes found the same stale claim; the second to act must not remove the first's new claim."""
    store = ResultStore(tmp_path / "results")
    held_by(store, spec, "another-host", 1, age=3600)
    stale = read_marker(marker_of(store, spec))
    first = store.claim(spec, "suite A")
    assert isinstance(first, Claim)
    take_over(marker_of(store, spec), stale)  # suite B, on what it read before suite A took over
    assert json.loads(marker_of(store, spec).read_text())["token"] == first.token
    assert [p.name for p in marker_of(store, spec).parent.iterdir()] == [f"{spec.run_id}.json"]
