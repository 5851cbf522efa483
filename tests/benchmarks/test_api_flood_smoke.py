"""The flood script still runs end to end (a few requests; no figure is asserted: speed is measured by
running the script by hand, never by a test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def test_the_flood_script_runs_and_reports_health_latency() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.api_flood", "--requests", "40", "--concurrency", "20", "--seconds", "60"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "answers by status: {200: 40}" in result.stdout
    assert "/healthz during the flood:" in result.stdout and "0 failed" in result.stdout
