"""The command line as a user meets it: list, help, and progress in a log (bad input: test_bad_input.py)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from dfo_bench.executors import progress
from dfo_bench.executors.progress import Progress
from dfo_bench.registry import optimizers, problems
from tests.conftest import CLI, cli_env


def dfo_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=cli_env())


@pytest.fixture(scope="module")
def listing() -> dict[str, str]:
    """``dfo-bench list`` output: section -> text."""
    return {kind: dfo_bench("list", kind).stdout for kind in ("problems", "optimizers")}


@pytest.mark.parametrize(
    "kind, name", [("problems", n) for n in problems.names()] + [("optimizers", n) for n in optimizers.names()]
)
def test_list_shows_every_registered_name_with_its_description(listing: dict[str, str], kind: str, name: str) -> None:
    registry = problems if kind == "problems" else optimizers
    lines = [line for line in listing[kind].splitlines() if line.split()[:1] == [name]]
    assert len(lines) == 1 and registry.get(name).description in lines[0]
    other = "optimizers" if kind == "problems" else "problems"
    assert not [line for line in listing[other].splitlines() if line.split()[:1] == [name]]


def test_help_names_every_command() -> None:
    shown = dfo_bench("--help")
    assert shown.returncode == 0
    for command in ("list", "run", "report", "export"):
        assert command in shown.stdout


def test_run_help_states_every_exit_status_and_report_and_status_offer_strict() -> None:
    shown = dfo_bench("run", "--help").stdout
    statuses = {
        line.split()[0]: line for line in shown.split("Exit status:")[1].split("Options:")[0].splitlines() if line.strip()
    }
    assert list(statuses) == ["0", "1", "2", "130", "143"], shown
    assert "failed" in statuses["1"] and "bad input" in statuses["2"] and "Ctrl-C" in statuses["130"]
    for command in ("report", "status"):
        assert "--strict" in dfo_bench(command, "--help").stdout


def test_progress_in_a_log_is_plain_lines_and_quiet_writes_none(write_suite, tmp_path: Path) -> None:
    """stderr piped (a Slurm log, ``2> log``): no bar redrawn with carriage returns, but a line
    after the first run and after the last; ``--quiet``: none."""
    suite = write_suite(
        {"name": "logged", "problems": ["digits-mlp"], "optimizers": ["random-search"], "seeds": [0, 1, 2], "budget": {"evaluations": 100}}
    )
    ran = dfo_bench("run", str(suite), "--out", str(tmp_path / "a"), "--sequential")
    assert ran.returncode == 0, ran.stderr
    assert "\r" not in ran.stderr and "run/s" not in ran.stderr, ran.stderr
    counts = [int(m[1]) for m in re.finditer(r"^logged: (\d+)/3 runs \(ok=\1 failed=0 running=\d+\), [\d:]+ elapsed", ran.stderr, re.M)]
    assert counts[0] == 1 and counts[-1] == 3 and counts == sorted(set(counts)), ran.stderr
    assert re.search(r"^logged: 1/3 runs .* elapsed, about [\d:]+ left$", ran.stderr, re.M), ran.stderr
    quiet = dfo_bench("run", str(suite), "--out", str(tmp_path / "b"), "--sequential", "--quiet")
    assert quiet.returncode == 0 and "logged: " not in quiet.stderr, quiet.stderr


@pytest.mark.parametrize(
    "total, ages, running, at_once, left",
    [
        (4, [0.0, 99.0], 2, 1, "01:40"),  # 2 workers: one run just started, the other's 1 s from its end
        (3, [0.0], 1, 1, "03:20"),  # one worker: the run just started and one more
        (4, [], 2, 1, "01:40"),  # no markers (workers without the folder): running runs half done
        (3, [250.0, 30.0], 2, 1, "01:10"),  # both left running: 0 s (overdue) and 70 s owed
        (4, [10.0], 3, 1, "04:50"),  # markers say 1 running (an engine's count includes queued tasks)
        (3, [500.0, 500.0], 2, 1, None),  # every run left overdue: no guess
        (4, [0.0], 1, 2, "02:30"),  # 2 workers, the one that finished not started again yet
    ],
)
def test_time_left_counts_what_the_running_runs_have_done(
    capsys: pytest.CaptureFixture[str], total: int, ages: list[float], running: int, at_once: int, left: str | None
) -> None:
    """Runs of 100 s: the first line after one ends says the time the rest take, not the finished
    runs' pace (elapsed / finished × left), which says about 3 times too much with 2 workers."""
    bar = Progress(total, "paced", lambda: running, lambda: [(age, 1.0) for age in ages], at_once)
    bar.advance("ok", 100.0)
    bar.close()
    line = capsys.readouterr().err.splitlines()[0]
    assert (f"about {left} left" in line) if left else line.endswith(" elapsed"), line


@pytest.mark.parametrize("seconds, left", [(True, ", about 04:30 left"), (False, "")])
def test_a_log_hears_from_runs_of_hours_before_the_first_ends(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, seconds: bool, left: str
) -> None:
    """A log (a Slurm job's) gets a line every ``QUIET_SECONDS`` while runs go on, not only when one
    ends; with the plan's seconds as costs it says the time left before any run has ended: the
    running run's 100 s less the 30 it has run, then two more (not before the first run ends, as
    without them). Those lines do not hold back the line of the next run's end, and none comes
    after the line is closed."""
    monkeypatch.setattr(progress, "QUIET_SECONDS", 0.2)
    bar = Progress(3, "long", lambda: 1, lambda: [(30.0, 100.0)], 1, work=300.0, seconds=seconds)
    said, waited = "", time.monotonic()
    while said.count("\n") < 2 and time.monotonic() - waited < 30:
        time.sleep(0.1)
        said += capsys.readouterr().err
    lines = said.splitlines()
    assert len(lines) >= 2, said
    for line in lines:
        assert re.fullmatch(rf"long: 0/3 runs \(ok=0 failed=0 running=1\), [\d:]+ elapsed{left}", line), line
    bar.advance("ok", 100.0, 100.0)
    assert re.search(r"^long: 1/3 runs \(ok=1 failed=0 running=1\)", capsys.readouterr().err, re.M)
    bar.close()
    time.sleep(0.5)
    assert capsys.readouterr().err == ""


def test_a_log_is_silent_between_runs_for_less_than_quiet_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    """The line after ``QUIET_SECONDS`` without one is not a line a second: in a second and a half
    of a run of 100 s (the background thread looks every second) the log gets none."""
    bar = Progress(3, "long", lambda: 1, lambda: [(30.0, 100.0)], 1, work=300.0, seconds=True)
    time.sleep(1.5)
    bar.close()
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "ages, left",
    [
        ([], "05:00"),  # 2 short runs done at the plan's pace: 3 long ones owed in full (not 00:30)
        ([(120.0, 100.0)], "03:20"),  # one of them running, 20 s over its estimate: 0 s owed, 100 + 100 left
        ([(30.0, 100.0)], "04:30"),  # running 30 s of its 100: 70 + 100 + 100
    ],
)
def test_time_left_weighs_each_run_by_its_expected_cost(
    capsys: pytest.CaptureFixture[str], ages: list[tuple[float, float]], left: str
) -> None:
    """A suite's tuning trials (a tenth of the budget each) finish first: the runs after them are
    ten times as long, which the pace of the finished runs over their expected cost (the plan's)
    says, and their mean wall time (10 s a run here) does not."""
    bar = Progress(5, "tuned", lambda: len(ages), lambda: ages, 1, work=2 * 10.0 + 3 * 100.0)
    bar.advance("ok", 10.0, 10.0)
    bar.advance("ok", 10.0, 10.0)
    bar.close()
    line = capsys.readouterr().err.splitlines()[-1]
    assert f"about {left} left" in line, line
