"""The production-shape benchmark still runs end to end with `wrk` (tiny sizes; no figure is
asserted: speed is measured by running the script by hand, never by a test)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]

# A developer machine without wrk skips this one test; CI (which installs it) must run it.
pytestmark = pytest.mark.skipif(not shutil.which("wrk") and not os.environ.get("CI"),
                                reason="needs wrk (apt-get install wrk)")


def test_the_realistic_benchmark_runs_the_shipped_command_and_accounts_for_every_delivery() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.realistic", "--licences", "6", "--articles", "12", "--duration", "1",
         "--rounds", "1", "--connections", "4", "--starts", "2"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ratio shipped/bare" in result.stdout and "server RSS at the end" in result.stdout
    assert "every delivery recorded" in result.stdout
    assert "median of 2 start(s)" in result.stdout and "CPU ms/req" in result.stdout
