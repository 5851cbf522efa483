"""Checks every browser test of the pages shares (console and portal), and the run's one Chromium."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


class OwnBrowser:
    """The run's one Chromium as a test sees it: the pages and contexts it opens are its own (a
    page from `new_page` gets a fresh context, as on a Browser), and `close()` closes them, never
    the browser the next test reuses. Cookies and storage never carry over from another test."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser
        self._contexts: list[Any] = []

    def new_context(self, **options: Any) -> Any:
        context = self._browser.new_context(**options)
        self._contexts.append(context)
        return context

    def new_page(self, **options: Any) -> Any:
        return self.new_context(**options).new_page()

    def close(self) -> None:
        while self._contexts:
            self._contexts.pop().close()


@contextlib.contextmanager
def own_browser(chromium: Any) -> Iterator[OwnBrowser]:
    """A test's own view of `chromium` (the session fixture), closed on the way out."""
    own = OwnBrowser(chromium)
    try:
        yield own
    finally:
        own.close()


def assert_no_serious_axe_violation(page, name: str) -> None:
    """axe-core on the page as it stands: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    serious = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in violations
               if v["impact"] in ("serious", "critical")]
    assert not serious, f"{name}: {serious}"
