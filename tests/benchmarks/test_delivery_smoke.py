"""The delivery benchmark still runs end to end (tiny duration; no figure is asserted: speed is
measured by running the script by hand, never by a test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def test_the_delivery_benchmark_runs_and_accounts_for_every_delivery() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.delivery", "--duration", "1", "--runs", "1", "--warmup", "1", "--connections", "4"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ratio content/bare:" in result.stdout
    assert "every delivery was recorded" in result.stdout


def test_the_benchmarks_are_not_part_of_the_installed_package() -> None:
    import tomllib

    packages = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert not any(pattern.startswith("benchmarks") for pattern in packages["include"])
    dockerfile = (REPOSITORY / "Dockerfile").read_text()
    assert "benchmarks" not in dockerfile
