"""The ``dfo-bench`` command: list, run, status, report, export; messages and exit statuses over
``dfo_bench.api``, which does the work. Each command imports what it needs when it runs, so that
``status`` reads a results folder without importing torch (the registries, the runner).

Every user error (bad suite, unknown name, missing data, no results) is one line on stderr and
exit status 2, and is found before anything is written. A damaged file in a results folder is a
warning line each (``--strict``: an error); ``run`` exits 1 when a run of it failed.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dfo_bench.errors import ConfigError, DfoBenchError, StoreError

if TYPE_CHECKING:
    from dfo_bench.registry import Registry
    from dfo_bench.store import DamagedFile

NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())
"""What click >= 8.2 raises for a bare group (click 8.1 prints the help and exits instead)."""


TRACEBACK_VARIABLE = "DFO_BENCH_TRACEBACK"


def _ask_tracebacks(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        os.environ[TRACEBACK_VARIABLE] = "1"


TRACEBACK_OPTION = click.option(
    "--traceback",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_ask_tracebacks,
    help=f"Show the whole traceback of each plugin that failed to load (or set {TRACEBACK_VARIABLE}=1).",
)


def registries() -> dict[str, Registry[Any]]:
    """The problem and optimizer registries, imported when a command needs them: they import
    torch, which the commands that only read a results folder (``status``) do without."""
    from dfo_bench.registry import optimizers, problems

    return {"problems": problems, "optimizers": optimizers}


def show_tracebacks() -> None:
    """With ``--traceback`` (or the variable set), each failed plugin's whole traceback on stderr."""
    if os.environ.get(TRACEBACK_VARIABLE, "") in ("", "0"):
        return
    for registry in registries().values():
        for entry in registry.failures():
            click.echo(f"{registry.kind} '{entry.name}' from {entry.origin}:", err=True)
            click.echo((entry.traceback or entry.error or "").rstrip(), err=True)


def arrow_memory_returned() -> None:
    """Read results with pyarrow's jemalloc pool where the wheel has it and the user chose none
    (``ARROW_DEFAULT_MEMORY_POOL``): it gives freed memory back to the system, which the default
    (mimalloc) keeps, so a report of 10,000 runs peaks lower (``bench_store.py``, 2026-12-04:
    764 against 957 MiB when it builds the index, 699 against 788 MiB when it reads it). The pool
    is the process's, so the command line chooses it for its own process, never the library."""
    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ:
        return
    import pyarrow as pa

    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:  # a build without jemalloc (Windows wheels)
        pass


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dfo-bench")
def cli() -> None:
    """Benchmarks for gradient-free training of neural networks."""


@cli.command("list")
@click.argument("kind", type=click.Choice(["problems", "optimizers", "all"]), default="all")
@click.option("--origin", is_flag=True, help="Also show where each entry comes from (built-in or entry point).")
@TRACEBACK_OPTION
def list_(kind: str, origin: bool) -> None:
    """Show registered problems and optimizers with one-line descriptions."""
    found = registries()
    kinds = list(found) if kind == "all" else [kind]
    for name in kinds:
        click.echo(f"{name}:")
        rows = found[name].describe()
        width = max(len(row[0]) for row in rows)
        for entry, text, where in rows:
            click.echo(f"  {entry:<{width}}  {text}" + (f"  [{where}]" if origin else ""))
    show_tracebacks()


@cli.command()
@click.argument("suite_file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Results folder (default: results/<suite name>).")
@click.option(
    "--executor",
    "kind",
    type=click.Choice(["sequential", "process", "dask", "slurm"]),
    help="How runs are executed (overrides the suite's executor.kind).",
)
@click.option("--workers", type=click.IntRange(min=1), help="Process pool size, or workers of a dask LocalCluster.")
@click.option("--sequential", is_flag=True, help="Run one run after another in this process (= --executor sequential).")
@click.option("--address", help="dask: scheduler address, e.g. tcp://host:8786 (default: start a LocalCluster).")
@click.option("--partition", help="slurm: partition.")
@click.option("--gpus-per-run", type=click.IntRange(min=0), help="slurm: GPUs per run.")
@click.option("--cpus-per-run", type=click.IntRange(min=1), help="slurm: CPUs per run.")
@click.option("--time-min", type=click.IntRange(min=1), help="slurm: time limit per run, minutes.")
@click.option("--mem-gb", type=click.FloatRange(min=0, min_open=True), help="slurm: memory per run, GB.")
@click.option("--cluster", type=click.Choice(["slurm", "local"]), help="slurm: 'local' runs the jobs on this machine.")
@click.option(
    "--problems",
    multiple=True,
    help="Run only these problem entries (labels, comma-separated or repeated; shell wildcards); the rest stays expected.",
)
@click.option(
    "--optimizers",
    multiple=True,
    help="Run only these optimizer entries (labels, comma-separated or repeated; shell wildcards); the rest stays expected.",
)
@click.option("--retry-failed", is_flag=True, help="Run again the runs stored as failed.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--plan",
    "plan_only",
    is_flag=True,
    help="Run nothing: list the runs stored, failed and to run, and estimate their time from a short calibration here.",
)
@TRACEBACK_OPTION
def run(
    suite_file: Path,
    out: Path | None,
    kind: str | None,
    sequential: bool,
    problems: tuple[str, ...],
    optimizers: tuple[str, ...],
    retry_failed: bool,
    quiet: bool,
    plan_only: bool,
    **options: Any,
) -> None:
    """Run a suite; runs already stored are skipped, so an interrupted suite resumes.

    The first line estimates the time of the runs to run (``--plan`` says more, and runs nothing).
    Ctrl-C or SIGTERM cancels the pending runs, stops the workers, says how many runs are stored
    and exits 130 / 143; running it again resumes. Two runs of a suite on one results folder
    share its runs: a run the other one holds is left to it. ``--problems`` / ``--optimizers`` run
    a part of the suite (one entry now, the others later or elsewhere): its copy in the results
    folder still expects every run, and running the whole suite later completes it.

    \b
    Exit status:
      0    every run of this invocation ok (or left to another process on the folder)
      1    some run failed; it is stored as failed with its error (--retry-failed runs it again)
      2    bad input (suite, option, folder); nothing was run or written
      130  stopped by Ctrl-C (SIGINT)
      143  stopped by SIGTERM"""
    from dfo_bench import api
    from dfo_bench.executors.stopping import Interrupted

    suite = api.load_suite(suite_file)
    if problems or optimizers:
        suite = suite.select(split_labels(problems), split_labels(optimizers))
    try:
        outcome = api.run(
            suite,
            out,
            "sequential" if sequential else kind,
            retry_failed=retry_failed,
            progress=not quiet,
            plan_only=plan_only,
            say=say,
            **options,
        )
    except Interrupted as stop:
        sys.exit(stop.exit_status)
    if plan_only:
        return
    for summary in outcome.failed:
        click.echo(f"failed: {summary.run_id}: {summary.error}", err=True)
    failed = outcome.failed
    why = f" (errors above; dfo-bench status {outcome.out} lists them; --retry-failed runs them again)" if failed else ""
    left = f", {outcome.elsewhere} runs left to another process on this folder" if outcome.elsewhere else ""
    click.echo(f"{suite.name}: {outcome.ok} ok, {len(failed)} failed{why}{left}; results in {outcome.out}")
    if failed:
        sys.exit(1)


def say(line: str, err: bool) -> None:
    click.echo(line, err=err)


STRICT_HELP = "Refuse (exit status 2) a results folder holding damaged files, instead of leaving them out with a warning."


def warn(damaged: list[DamagedFile], then: str = "left out") -> None:
    """One warning line on stderr per damaged file of a results folder."""
    for file in damaged:
        click.echo(f"warning: {file.path}: {file.reason}; {then}", err=True)


def refuse_damaged(damaged: list[DamagedFile]) -> None:
    """``--strict``: a folder with damaged files is bad input (one line, exit status 2)."""
    if damaged:
        first, more = damaged[0], len(damaged) - 1
        others = f" (and {more} more damaged file{'s' if more > 1 else ''})" if more else ""
        raise StoreError(f"{first.path}: {first.reason}{others}; --strict: allowed: a results folder without damaged files")


@cli.command()
@click.argument("results", type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help=STRICT_HELP)
def status(results: Path, strict: bool) -> None:
    """Runs done, failed, running and pending per optimizer in a results folder, the failed runs
    with their errors, and the damaged files left out (a warning each, on stderr)."""
    from dfo_bench.status import folder_status, render

    arrow_memory_returned()

    (folder,) = _results_folders((results,))
    found = folder_status(folder, index=not strict)  # a folder --strict refuses is left as it was
    if strict:
        refuse_damaged(found.damaged)
    warn(found.damaged)
    for line in render(found):
        click.echo(line)


def split_labels(values: tuple[str, ...]) -> list[str]:
    """Labels given as repeated options and/or comma-separated lists (shell wildcards allowed);
    commas inside brackets belong to a label, as in ``de[popsize=64,strategy=best1bin]``."""
    return [part.strip() for value in values for part in re.split(r",(?![^\[]*\])", value) if part.strip()]


def _results_folders(results: tuple[Path, ...]) -> list[Path]:
    for folder in results:
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"{folder}: RESULTS: is a file; allowed: a results folder written by dfo-bench run")
    return list(results)


SELECT_HELP = "Only these labels (comma-separated or repeated; shell wildcards such as 'de*')."


@cli.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Report folder (default: reports/<results folder names>).")
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["markdown", "html", "latex"]),
    help="Outputs to write (repeatable; default: markdown and html). latex: the main tables as booktabs tables in report.tex.",
)
@click.option("--problems", multiple=True, help=SELECT_HELP)
@click.option("--optimizers", multiple=True, help=SELECT_HELP)
@click.option(
    "--targets",
    "target_specs",
    multiple=True,
    metavar="METRIC=V1,V2,...",
    help="Fixed targets instead of the derived ladder (repeatable); METRIC: train_loss, or val_<name> of a metric "
    "a problem declares (val_accuracy, val_f1; a plugin's, e.g. val_r2).",
)
@click.option("--strict", is_flag=True, help=STRICT_HELP)
def report(
    results: tuple[Path, ...],
    out: Path | None,
    formats: tuple[str, ...],
    problems: tuple[str, ...],
    optimizers: tuple[str, ...],
    target_specs: tuple[str, ...],
    strict: bool,
) -> None:
    """Build the report of one or more results folders from stored results alone (nothing is re-run).

    Several folders are merged; a run stored in more than one is kept once (from the first). A
    damaged file (a truncated Parquet file, a file that is not a run) is left out with a warning.
    """
    from dfo_bench import api

    arrow_memory_returned()
    folders = _results_folders(results)
    out = api.check_out(out or Path("reports") / "+".join(f.resolve().name for f in folders))
    loaded = api.load(folders, split_labels(problems), split_labels(optimizers), index=not strict)
    if strict:
        refuse_damaged(loaded.damaged)
    warn(loaded.damaged)
    for note in loaded.notes:
        click.echo(f"note: {note}", err=True)
    index = api.report(folders, out, formats, targets=target_specs, loaded=loaded)
    click.echo(f"report: {index}")


@cli.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--tensorboard", "tensorboard", required=True, type=click.Path(path_type=Path), help="Folder for the event files.")
@click.option("--problems", multiple=True, help=SELECT_HELP)
@click.option("--optimizers", multiple=True, help=SELECT_HELP)
def export(results: tuple[Path, ...], tensorboard: Path, problems: tuple[str, ...], optimizers: tuple[str, ...]) -> None:
    """Replay stored traces as TensorBoard scalars (needs the export extra: pip install 'dfo-bench[export]')."""
    from dfo_bench import api
    from dfo_bench.export import export_tensorboard

    arrow_memory_returned()

    folders = _results_folders(results)
    count = export_tensorboard(folders, api.check_out(tensorboard), split_labels(problems), split_labels(optimizers))
    click.echo(f"export: {count} runs -> {tensorboard} (tensorboard --logdir {tensorboard})")


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except NO_ARGS_IS_HELP as exc:  # bare ``dfo-bench``: the help, as click shows it
        exc.show()
        sys.exit(exc.exit_code)
    except click.UsageError as exc:  # one line, like every other user error
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DfoBenchError as exc:
        click.echo(f"error: {exc}", err=True)
        show_tracebacks()
        sys.exit(2)
