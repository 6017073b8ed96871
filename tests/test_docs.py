"""The documentation site (mkdocs.yml, docs/): it builds with ``mkdocs build --strict``, its
reference pages are generated from the code, every internal link leads to a file and an anchor
that exist, it loads nothing from the network, and in headless chromium over file:// its pages
run without a JavaScript error and the offline search finds pages.

A probe script is added to copies of a few built pages (as tests/test_report_browser.py does):
it records errors and ``console.error`` from the first moment and, after the page's own scripts
ran, writes what it saw into the DOM, which ``chromium --dump-dom`` prints. The browser tests are
skipped where chromium is missing, except in CI (.ci/run installs Debian's chromium).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from dfo_bench import registry
from dfo_bench.suite.schema import OptimizerConfig, SuiteConfig, TuningConfig

from .chromium import needs_chromium, probe_page

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as ``make test`` builds it, into a temporary folder."""
    out = tmp_path_factory.mktemp("docs") / "site"
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return out


class Links(HTMLParser):
    """Every id of a page, and every link it makes (href of <a> and <link>, src of <script>, <img>)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = dict(attrs)
        if given.get("id"):
            self.ids.add(str(given["id"]))
        for name in ("href", "src"):
            if given.get(name) is not None and tag in ("a", "link", "script", "img"):
                self.links.append((tag, str(given[name])))


def parse(page: Path) -> Links:
    links = Links()
    links.feed(page.read_text(encoding="utf-8"))
    return links


def test_every_internal_link_leads_to_a_file_and_an_anchor_that_exist(site: Path) -> None:
    pages = {page: parse(page) for page in site.rglob("*.html")}
    assert len(pages) >= 20
    broken = []
    for page, links in pages.items():
        if page.name == "404.html":  # served by a web server for any missing path: its links are absolute
            continue
        for tag, link in links.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("mailto:", "data:", "javascript:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page.relative_to(site)}: <{tag}> {link} (no file)")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in pages[target].ids:
                broken.append(f"{page.relative_to(site)}: <{tag}> {link} (no such anchor)")
    assert broken == []


def test_nothing_is_loaded_from_the_network(site: Path) -> None:
    """Scripts, style sheets and fonts come from the site itself, so it works offline."""
    external = [
        f"{page.relative_to(site)}: {link}"
        for page in site.rglob("*.html")
        for tag, link in parse(page).links
        if tag in ("script", "link", "img") and urlsplit(link).scheme in ("http", "https") and "canonical" not in link
    ]
    assert external == []


def test_reference_pages_are_generated_from_the_code(site: Path) -> None:
    suite = (site / "reference" / "suite.html").read_text()
    for model in (SuiteConfig, OptimizerConfig, TuningConfig):
        assert f'id="{model.__name__.lower()}"' in suite
        for field in model.model_fields:
            if field != "extra_slurm":
                assert f"<code>{field}</code>" in suite, (model.__name__, field)
    assert "<code>val_f1</code>" in suite  # a Literal's allowed values (TuningConfig.metric)
    for kind, names in (("optimizers", registry.optimizers.names()), ("problems", registry.problems.names())):
        text = (site / "reference" / f"{kind}.html").read_text()
        for name in names:
            assert f'id="{name}"' in text, (kind, name)
    optimizers = (site / "reference" / "optimizers.html").read_text()
    assert "lr∈[1e-05, 0.1] log" in optimizers  # Adam's declared tuning range, from dfo_bench.ranges.describe
    architecture = (site / "architecture.html").read_text()
    for module in ("cli", "registry", "optuna_study", "ranges"):  # from pyproject's import-linter contract
        assert f"<code>{module}</code> (" in architecture
    api = (site / "reference" / "api.html").read_text()
    for hook in ("_evaluate", "_ask", "_tell", "_step", "loss_and_grad", "from_config"):  # what a plugin implements or calls
        assert re.search(rf'id="dfo_bench\.[\w.]+\.{hook}"', api), hook
    cli = (site / "cli.html").read_text()
    for command in ("list", "run", "status", "report", "export"):
        assert f"dfo-bench {command}" in cli


PROBE = """<script>window.addEventListener("load", function () { setTimeout(function () {
  var out = {errors: window.__errors, title: document.title,
    results: document.querySelectorAll(".md-search-result__item").length,
    found: Array.prototype.map.call(document.querySelectorAll(".md-search-result__item a"), function (a) {
      return a.getAttribute("href"); })};
  var pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 2000); });</script>"""


def probe(site: Path, page: str, query: str | None = None) -> tuple[dict, str]:
    """What the probe saw on a copy of ``page`` beside it (relative links keep working), and chromium's log."""
    source = site / page
    return probe_page(source.read_text(encoding="utf-8"), source.with_name(f"probed-{source.name}"), PROBE, query)


@needs_chromium
@pytest.mark.parametrize(
    "page", ["index.html", "reference/suite.html", "reference/api.html", "cli.html", "results/quickstart.html"]
)
def test_pages_load_without_javascript_errors(site: Path, page: str) -> None:
    seen, log = probe(site, page)
    assert seen["errors"] == []
    assert "Uncaught" not in log
    assert "dfo-bench" in seen["title"]


@needs_chromium
def test_search_works_offline(site: Path) -> None:
    """Material's search over file://: the index inlined as search/search_index.js, the worker through
    the shipped iframe-worker shim; a query given in the address (?q=) lists the pages that hold it."""
    assert (site / "search" / "search_index.js").is_file()
    seen, log = probe(site, "results/index.html", query="hypervolume")
    assert seen["errors"] == [] and "Uncaught" not in log
    assert seen["results"] >= 3
    assert any("mo-precision-recall.html" in href for href in seen["found"])
