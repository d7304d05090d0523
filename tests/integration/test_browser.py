"""The built book as a reader sees it: a smoke-profile book opened page by page in headless Chromium.

Playwright drives the system's Chromium (Debian's ``chromium`` package; no browser download). The
notebooks are executed once per session in the smoke profile (``smoke_execute`` in conftest, shared
with test_reproduce), the book is built from those copies, served over HTTP, and every page of the
table of contents is checked: it loads without console errors, every image is present and non-empty,
no internal link is broken, no paragraph starts with ``|`` (a Markdown table printed as text),
every results page (an executed notebook) shows a table or a figure, and every results page of the
papers' chapters shows its verdict line (``report.claim_verdict``; an "At larger scale" page: its reading).

Outside CI the test is skipped when Chromium or Playwright is missing; in CI (``CI=true``) it fails.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
import yaml

from defectbook.book.execute import discover
from defectbook.book.toc import build_book
from defectbook.paths import repo_root

CHROMIUM = os.environ.get("DEFECTBOOK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]  # one smoke book per run


def _need_browser():
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "Playwright is not installed (pip install playwright)"
    if reason is None and not Path(CHROMIUM).is_file():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)


def toc_pages(toc: dict) -> list[str]:
    """Every file named in a jb-book table of contents, in order (root first)."""
    out = [toc["root"]]

    def walk(items):
        for it in items or []:
            if "file" in it:
                out.append(it["file"])
            walk(it.get("sections"))
            walk(it.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return out


@pytest.fixture(scope="session")
def smoke_site(smoke_execute, tmp_path_factory):
    """A smoke-profile book built from the session's executed notebooks: ``(html dir, toc pages)``."""
    _need_browser()
    src = repo_root()
    base = tmp_path_factory.mktemp("smoke-book")
    shutil.copy(src / "_config.yml", base / "_config.yml")
    shutil.copytree(src / "book", base / "book", ignore=shutil.ignore_patterns("executed"))
    shutil.copytree(src / "notebooks", base / "notebooks")
    failed = []
    # DEFECTBOOK_SMOKE_EXECUTED: a folder of notebooks already executed in the smoke profile
    # (``defectbook reproduce --profile smoke`` writes book/executed/); otherwise they are executed here.
    given = os.environ.get("DEFECTBOOK_SMOKE_EXECUTED")
    nbs = discover()
    ready = {nb: Path(given) / nb.parent.name / f"{nb.stem}.ipynb" for nb in nbs} if given else {}
    executed = smoke_execute.all([nb for nb in nbs if not ready.get(nb, Path("/nonexistent")).is_file()])
    for nb in nbs:
        if nb in executed:
            o, out = executed[nb]
            if o.status != "ok":
                failed.append(o.notebook)
        else:
            out = ready[nb]
        dest = base / "book" / "executed" / nb.parent.name / out.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, dest)
    assert build_book(base) == 0, "jupyter-book build failed"
    html = base / "_build" / "html"
    assert (html / "index.html").is_file()
    return html, toc_pages(yaml.safe_load((base / "_toc.yml").read_text())), failed


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request log in the test output
        pass


@pytest.fixture(scope="session")
def browser_pages(smoke_site):
    """Visit every toc page once; per page: console errors, broken images, internal links, pipe
    paragraphs, whether it shows a table or figure."""
    from playwright.sync_api import sync_playwright

    html, pages, _ = smoke_site
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_port}/"
    report = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            for name in pages:
                errors.clear()
                url = urljoin(origin, f"{name}.html")
                response = page.goto(url, wait_until="load")
                page.wait_for_load_state("networkidle")
                info = page.evaluate("""() => ({
                    images: [...document.querySelectorAll('article img, main img')].map(i => ({
                        src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0 && i.naturalHeight > 0})),
                    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
                    pipes: [...document.querySelectorAll('article p')].map(p => p.textContent.trim())
                               .filter(t => t.startsWith('|')).map(t => t.slice(0, 80)),
                    tables: document.querySelectorAll('article table').length,
                    figures: document.querySelectorAll('article img').length,
                    verdict: /Verdict: (ours (agrees|disagrees) with the paper|undecided|not testable here)|[Rr]eading: /
                               .test(document.querySelector('article')?.innerText || ''),
                })""")  # noqa: E501 (the JavaScript regex line above)
                info["status"] = response.status if response else None
                info["errors"] = list(errors)
                report[name] = info
            links = sorted({link.split("#")[0] for info in report.values() for link in info["links"]
                            if link.startswith(origin)})
            broken = []
            for link in links:
                path = html / urlparse(link).path.lstrip("/")
                if path.is_dir():
                    path = path / "index.html"
                if not path.is_file():
                    broken.append(link[len(origin):])
            report["__broken_links__"] = broken
            browser.close()
    finally:
        server.shutdown()
    return report


def _pages(report):
    return {k: v for k, v in report.items() if not k.startswith("__")}


def test_smoke_book_notebooks_executed(smoke_site):
    """Every notebook in the smoke profile, built into a book (minutes: this is where the notebooks run; under
    pytest-xdist the workers share the executions with test_reproduce's notebook tests)."""
    assert not smoke_site[2], f"notebooks that failed in the smoke profile: {smoke_site[2]}"


def test_every_page_loads_without_console_errors(browser_pages):
    bad = {k: (v["status"], v["errors"][:3]) for k, v in _pages(browser_pages).items()
           if v["status"] != 200 or v["errors"]}
    assert not bad, f"pages with load or console errors: {bad}"


def test_every_image_is_present_and_non_empty(browser_pages):
    bad = {k: [i["src"] for i in v["images"] if not i["ok"]] for k, v in _pages(browser_pages).items()}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"broken images: {bad}"


def test_no_broken_internal_link(browser_pages):
    assert not browser_pages["__broken_links__"], f"broken internal links: {browser_pages['__broken_links__']}"


def test_no_paragraph_is_a_table_printed_as_text(browser_pages):
    bad = {k: v["pipes"] for k, v in _pages(browser_pages).items() if v["pipes"]}
    assert not bad, f"paragraphs starting with '|' (a Markdown table not rendered): {bad}"


def test_every_results_page_shows_a_table_or_figure(browser_pages):
    bad = [k for k, v in _pages(browser_pages).items()
           if k.startswith("book/executed/") and not (v["tables"] or v["figures"])]
    assert not bad, f"results pages without a <table> or a figure: {bad}"


def test_every_paper_results_page_shows_its_verdict(browser_pages):
    papers = ("padim", "npad", "differnet", "trustmae", "ndpnet")
    bad = [k for k, v in _pages(browser_pages).items()
           if k.startswith(tuple(f"book/executed/{g}/" for g in papers)) and not v["verdict"]]
    assert not bad, f"results pages without a verdict line: {bad}"


def test_toc_pages_walks_parts_and_sections():
    toc = {"root": "a", "parts": [{"chapters": [{"file": "b", "sections": [{"file": "c"}]}]}]}
    assert toc_pages(toc) == ["a", "b", "c"]
