"""A real headless browser for the report tests: Debian's chromium driven by Playwright
(its own browser download is never used; `make test` installs chromium when missing).

One browser per test module (`chromium()` in a module-scoped fixture); each report is
opened in a new page that records every console error and uncaught exception."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",  # tests run as root
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
IDLE = "() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle"


@contextmanager
def chromium() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "no chromium: apt-get install -y chromium (make test does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Opened:
    page: Page
    errors: list[str] = field(default_factory=list)

    def count(self, model: str) -> int:
        """Rows of the data source behind the Bokeh renderer named `model`."""
        script = f"() => Bokeh.documents[0].get_model_by_name({model!r}).data_source.get_length()"
        return int(self.page.evaluate(script))


def open_report(browser: Browser, path: Path, charts: bool = True) -> Opened:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    opened = Opened(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            opened.errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    page.goto(path.as_uri())
    if charts:
        page.wait_for_function(IDLE, timeout=30_000)
    return opened
