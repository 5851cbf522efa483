"""Checks every browser test of the pages shares (console and portal)."""

from __future__ import annotations


def assert_no_serious_axe_violation(page, name: str) -> None:
    """axe-core on the page as it stands: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    serious = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in violations
               if v["impact"] in ("serious", "critical")]
    assert not serious, f"{name}: {serious}"
