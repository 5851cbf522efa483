"""The long-poll benchmark still runs end to end (a few clients, a short hold; no figure is asserted:
memory and CPU are measured by running the script by hand, never by a test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def test_the_longpoll_benchmark_holds_clients_and_wakes_them_all() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.longpoll", "--clients", "10", "--hold", "1", "--settle", "1"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "after one change: 10/10 answered with it" in result.stdout
