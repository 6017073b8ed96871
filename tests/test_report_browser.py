"""The HTML report opened in a real headless browser (Debian's chromium): it loads offline with no
JavaScript error, every plot is drawn, and the tables sort when a header is clicked.

A probe script is added to a copy of the page: it records errors from the first moment, and after
the page's own scripts ran it clicks a header twice and writes what it saw into the DOM, which
``chromium --dump-dom`` prints. Skipped where chromium is missing, except in CI (.ci/run installs it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dfo_bench.report import build_report
from dfo_bench.report.interactive import plotly_js

from .chromium import needs_chromium, probe_page
from .report_data import specs, synthetic_results, trace, write_run

pytestmark = needs_chromium

PROBE = """<script>
window.addEventListener("load", function () { setTimeout(function () {
  var out = {errors: window.__errors};
  out.divs = document.querySelectorAll("div[id^=plot-]").length;
  out.drawn = document.querySelectorAll("div[id^=plot-].js-plotly-plot").length;
  out.withLines = Array.prototype.filter.call(document.querySelectorAll("div[id^=plot-]"),
      function (d) { return d.querySelectorAll("svg.main-svg path.js-line").length > 0; }).length;
  var table = document.querySelector("#problem-1 ~ div.scroll table.sortable");
  var headers = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) { return th.textContent; });
  var column = headers.findIndex(function (h) { return h.indexOf("mean [95% CI]") >= 0; });
  var read = function () { return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
      return [r.cells[1].textContent, r.cells[column].dataset.sort]; }); };
  table.querySelectorAll("thead th")[column].click(); out.ascending = read();
  table.querySelectorAll("thead th")[column].click(); out.descending = read();
  out.published = table.tBodies.length > 1 ? table.tBodies[1].rows.length : 0;
  var pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 300); });
</script>"""


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two problems, one matching published numbers (mnist-mlp), five optimizers, one failed run."""
    tmp = tmp_path_factory.mktemp("browser")
    finals = {"a": 0.91, "b": 0.85, "c": 0.88, "d": 0.80, "e": 0.93}
    results = synthetic_results(tmp, ["digits"], list(finals), range(3), lambda p, o, s: finals[o] - 0.01 * s)
    for spec in specs(tmp, ["mnist"], list(finals), range(3)):
        write_run(results, spec, trace(finals[spec.optimizer.label] + 0.005 * spec.seed), problem="mnist-mlp")
    failed = specs(tmp, ["digits"], ["a"], [9])[0]
    write_run(results, failed, trace(0.5)[:3], error="RuntimeError: boom")
    return build_report(results, tmp / "report", formats=("html",))


@pytest.fixture(scope="module")
def probe(page: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """What the probe saw in chromium, and chromium's log (console errors show there too)."""
    return probe_page(page.read_text(), tmp_path_factory.mktemp("probe") / "probed.html", PROBE, budget_ms=20_000)


def test_page_loads_without_javascript_errors_and_draws_every_plot(probe: tuple[dict, str]) -> None:
    result, log = probe
    assert result["errors"] == []
    assert "Uncaught" not in log
    assert result["divs"] >= 2 * 9 + 2
    assert result["drawn"] == result["divs"] and result["withLines"] == result["divs"]


def test_tables_sort_when_a_header_is_clicked_and_published_rows_stay_apart(probe: tuple[dict, str]) -> None:
    result, _ = probe
    ascending = [float(value) for _, value in result["ascending"]]
    assert ascending == sorted(ascending) and len(ascending) == 5
    assert [label for label, _ in result["descending"]] == [label for label, _ in reversed(result["ascending"])]
    assert result["descending"][0][0] == "e"
    assert result["published"] == 2  # MDP and Adam from the MDP post, below ours whatever the order


def test_page_is_self_contained(page: Path) -> None:
    text = page.read_text()
    assert text.count("* plotly.js v") == 1 and text.count(plotly_js()) == 1  # inlined once, however many plots
    text = text.replace(plotly_js(), "")  # the bundle's own strings (links it can draw) load nothing
    assert not re.search(r"<script[^>]*\bsrc=|<link\b|<iframe|@import|url\(http", text)
    assert not re.search(r'(src|href)="(?!#|data:)', text)
