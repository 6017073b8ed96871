"""What the report says, in order, built once from the analysis: headings, notes, lists, tables and
figures. Markdown, HTML and LaTeX render this one outline, each showing the blocks it can (LaTeX:
the tables, captioned by their section and notes), so the formats cannot drift apart.

Every table is followed by its note (units, how to read it). A table marked ``fold`` is folded
under its title on the HTML page; one not marked ``paper`` is on the HTML page only (folded), its
numbers being in the CSV files or the stored runs: Markdown and LaTeX leave it out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from dfo_bench.report.analysis import Across, ProblemAnalysis
from dfo_bench.report.cost import cost_note
from dfo_bench.report.display import (
    TextTable,
    across_table,
    budget_fractions_text,
    configuration_table,
    cost_text_table,
    failed_table,
    fixed_budget_table,
    fixed_target_table,
    fixed_target_wide,
    hypervolume_note,
    hypervolume_p_table,
    hypervolume_table,
    main_table,
    main_table_note,
    p_value_table,
    start_table,
)
from dfo_bench.report.figures import FigureData
from dfo_bench.report.hpo import HPOAnalysis, chosen_table, top_table
from dfo_bench.report.tuning import tuning_note

TITLE = "dfo-bench report"


@dataclass(frozen=True)
class Heading:
    text: str
    level: int
    """1: the report's title; 2: a section (a problem, across problems, tuning); 3: a part of one."""
    anchor: str = ""
    """Id of a section that the contents link to; also names its LaTeX tables."""


@dataclass(frozen=True)
class Contents:
    """Links to sections by anchor, for the formats that have anchors (HTML)."""

    label: str
    entries: tuple[tuple[str, str], ...]
    """(text, anchor)."""


@dataclass(frozen=True)
class Facts:
    """A list of ``key: value`` (the environment of the runs)."""

    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Note:
    text: str


@dataclass(frozen=True)
class Items:
    """A bulleted list."""

    texts: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    table: TextTable
    key: str = ""
    """Distinguishes the tables of one section in their LaTeX labels ("" for its main table)."""
    title: str = ""
    """What the table is, shown before it (the summary where it is folded); "" where its heading says it."""
    note: str = ""
    """How to read it, shown after it."""
    wrap: tuple[int, ...] = ()
    """Columns of long text (configurations, errors), wrapped on the HTML page."""
    fold: bool = False
    paper: bool = True


@dataclass(frozen=True)
class Image:
    """A figure drawn once as an image (the critical-difference diagram): inlined on the HTML
    page, its PNG and SVG beside the Markdown."""

    stem: str
    alt: str
    png: bytes
    svg: bytes


@dataclass(frozen=True)
class Figures:
    """Figures shown side by side; ``what`` is their alternative text in Markdown."""

    what: str
    figures: tuple[FigureData | Image, ...]


Block = Heading | Contents | Facts | Note | Items | Table | Figures


def figures(outline: Sequence[Block]) -> Iterator[FigureData | Image]:
    """Every figure of the outline, in order (the files to write beside the Markdown)."""
    for block in outline:
        if isinstance(block, Figures):
            yield from block.figures


def _p_values_title(what: str, powered: bool) -> str:
    title = f"Pairwise two-sided Wilcoxon signed-rank p-values{what}, Holm-adjusted over all pairs"
    return title if powered else title + " (too few seeds: none can be below α; shown for completeness)"


def _final_metrics(analysis: ProblemAnalysis) -> list[Block]:
    blocks: list[Block] = [Heading("Final metrics", 3), Table(main_table(analysis), note=main_table_note(analysis))]
    if analysis.reference_protocols:
        blocks.append(Note("Published rows (italic) were not re-run here; their protocol differs from ours:"))
        blocks.append(Items(tuple(analysis.reference_protocols)))
    title = "Cost: evaluations per second of search and peak memory"
    blocks.append(Table(cost_text_table(analysis), "cost", title, cost_note(analysis.cost)))
    pairs = p_value_table(analysis)
    if len(pairs.rows) > 1:
        title = _p_values_title(" on paired seeds", analysis.significance.powered)
        blocks.append(Table(pairs, "p-values", title, fold=True))
    return blocks


def _fixed_target(analysis: ProblemAnalysis) -> list[Block]:
    note = (
        analysis.targets_note + " Cells: COCO's expected running time (ERT; unsuccessful runs count with their whole "
        f"usage) in {analysis.samples_unit}, and the runs that reached the target out of all; ∞: no run reached it. "
        "Runtimes are known to within one checkpoint. ERT in evaluations and seconds: the table per target on the HTML "
        "page, and fixed_target.csv."
    )
    blocks: list[Block] = [Heading("Fixed target", 3), Note(note)]
    for name in analysis.targets:
        title = f"ERT in {analysis.samples_header} to each {analysis.target_metrics[name].label} target (successful runs / runs)"
        blocks.append(Table(fixed_target_wide(analysis, name), f"target-{name.replace('_', '-')}", title))
    if analysis.ecdfs:
        blocks.append(Figures("Runtime ECDF", tuple(analysis.ecdfs)))
    title = "Expected running time and success rate per target"
    blocks.append(Table(fixed_target_table(analysis), "targets", title, fold=True, paper=False))
    return blocks


def _pareto(analysis: ProblemAnalysis) -> list[Block]:
    pareto = analysis.pareto
    assert pareto is not None
    blocks: list[Block] = [Heading("Pareto fronts and hypervolume", 3)]
    blocks.append(Table(hypervolume_table(analysis), "hypervolume", note=hypervolume_note(analysis)))
    if len(pareto.table) > 1:
        title = _p_values_title(" of the final hypervolume", pareto.significance.powered)
        blocks.append(Table(hypervolume_p_table(analysis), "hypervolume-p-values", title, fold=True))
    return [*blocks, Figures("Hypervolume and fronts", tuple(pareto.figures))]


def _problem(analysis: ProblemAnalysis, anchor: str) -> list[Block]:
    blocks: list[Block] = [Heading(analysis.problem, 2, anchor), *_final_metrics(analysis)]
    if analysis.start is not None:
        blocks += [Heading("Improvement over the start", 3), Table(start_table(analysis), "start", note=analysis.start.note)]
    blocks += _fixed_target(analysis)
    budget_note = f"Median over seeds at {budget_fractions_text()} of each run's budget."
    blocks += [Heading("Fixed budget", 3), Table(fixed_budget_table(analysis), "budget", note=budget_note)]
    blocks.append(Heading("Convergence", 3))
    if analysis.speed.caution:  # beside the plots against seconds
        blocks.append(Note(analysis.speed.note))
    blocks.append(
        Figures("Convergence", tuple(analysis.convergence)) if analysis.convergence else Note("No successful run to plot.")
    )
    if analysis.pareto is not None:
        blocks += _pareto(analysis)
    configurations = configuration_table(analysis)
    blocks.append(Table(configurations, "configurations", "Run configurations", wrap=(2, 3, 6, 7), fold=True, paper=False))
    if not analysis.failed.empty:
        blocks += [Heading("Failed runs", 3), Table(failed_table(analysis), "failed", wrap=(3,))]
    return blocks


def _hpo(analysis: HPOAnalysis) -> list[Block]:
    published = "Published rows (italic) were not re-run here; their protocol differs from ours."
    chosen = Table(
        chosen_table(analysis),
        "hpo-chosen",
        f"Final {analysis.metric} per optimizer and the configuration of its best seed",
        published if not analysis.published.empty else "",
        wrap=(5,),
    )
    title = f"Top {len(analysis.top)} configurations (recommended at a checkpoint of any run)"
    blocks: list[Block] = [Heading("Hyper-parameters", 3), chosen, Table(top_table(analysis), "hpo-top", title, wrap=(4,))]
    if analysis.figures:
        blocks.append(Figures("Best validation value", tuple(analysis.figures)))
    return blocks


def build_outline(
    meta: Mapping[str, str],
    analyses: Sequence[ProblemAnalysis],
    across: Across,
    critical_difference: Image | None = None,
    tuning: TextTable | None = None,
    hpo: Mapping[str, HPOAnalysis] | None = None,
    timing: tuple[TextTable, str] | None = None,
) -> list[Block]:
    """The whole report: environment, across problems, tuning (suites with ``tuning:``), then one
    section per problem, followed by its hyper-parameter view where ``hpo`` has one (by problem
    label), and the estimated against the actual time (``timing``: table and note) where it is known."""
    anchors = [f"problem-{i}" for i in range(len(analyses))]
    outline: list[Block] = [
        Heading(TITLE, 1),
        Contents("Problems", tuple((a.problem, anchor) for a, anchor in zip(analyses, anchors, strict=True))),
        Heading("Environment", 2),
        Facts(tuple(meta.items())),
        Heading("Across problems", 2, "across"),
        Table(across_table(across), note=across.note),
    ]
    shown = ((critical_difference,) if critical_difference else ()) + ((across.profile,) if across.profile else ())
    if shown:
        outline.append(Figures("Across problems", shown))
    if tuning is not None:
        title = "Configuration chosen and cost per optimizer"
        space = len(tuning.columns) - 1  # the search space, last
        outline += [Heading("Tuning", 2, "tuning"), Table(tuning, title=title, note=tuning_note(), wrap=(2, space))]
    for analysis, anchor in zip(analyses, anchors, strict=True):
        outline += _problem(analysis, anchor)
        if hpo and analysis.problem in hpo:
            outline += _hpo(hpo[analysis.problem])
    if timing is not None:
        outline += [Heading("Time: estimated and actual", 2, "time"), Table(timing[0], "time", note=timing[1], fold=True)]
    return outline
