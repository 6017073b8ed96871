"""Pages opened in a real headless Chromium (Debian's, which .ci/run installs): a probe script
injected into a copy of the page reports what it found as JSON, and page errors and console
errors are collected from the first script on."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="no chromium here (.ci/run installs Debian's chromium in CI)"
)
ERRORS = """<script>window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push(String(e.message)); });
var __error = console.error; console.error = function () {
  window.__errors.push(Array.prototype.join.call(arguments, " ")); __error.apply(console, arguments); };</script>"""
"""Collects uncaught errors and console errors in ``window.__errors`` (a probe reports them)."""


def probe_page(html: str, copy: Path, probe: str, query: str | None = None, budget_ms: int = 10_000) -> tuple[dict, str]:
    """Writes ``html`` to ``copy`` with ``ERRORS`` first in its head and ``probe`` (a script that
    writes its JSON into ``<pre id="probe">``) last in its body, opens it in headless Chromium
    with ``budget_ms`` of virtual time, and returns the probe's JSON and Chromium's log."""
    assert CHROMIUM, "chromium is not installed"
    copy.write_text(html.replace("<head>", "<head>" + ERRORS, 1).replace("</body>", probe + "</body>", 1), encoding="utf-8")
    url = copy.as_uri() + (f"?q={query}" if query else "")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"]
    run = subprocess.run(
        [CHROMIUM, *flags, f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', run.stdout, re.S)
    assert found, f"the probe never ran: {run.stderr[-2000:]}"
    raw = found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return json.loads(raw), run.stderr
