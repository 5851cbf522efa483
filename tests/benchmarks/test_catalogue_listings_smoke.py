"""The catalogue listing benchmark still runs end to end (tiny size, one repeat; no figure is
asserted: speed is measured by running the script by hand, never by a test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def test_the_catalogue_listing_benchmark_runs_and_prints_its_table() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.catalogue_listings", "--db", "sqlite", "--sizes", "50", "--repeat", "1"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=180, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sqlite: 50 articles inserted" in result.stdout, result.stdout
    assert "| listing (sqlite) |" in result.stdout, result.stdout
