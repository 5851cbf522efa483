"""The scale benchmark still runs end to end (tiny sizes; no timing is asserted: speed is measured
by running the script by hand, never by a test). Its counts must add up, or the figures mean nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def test_the_scale_benchmark_invoices_every_partner_once_and_reports_every_event(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale", "--db", "sqlite", "--partners", "12", "--events", "2000",
         "--database-url", f"sqlite:///{tmp_path / 'scale.db'}"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=240, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "'usage_event': 2000" in out and "'republication': 600" in out, out  # 12 licences x 50 articles
    assert "for 12 partners (12 invoices, 12 lines, 0 failed)" in out, out
    # One provider call a partner: the customers were made when the licences were charged.
    assert "provider calls: 12 (issue_invoice 12)" in out and "1.00 provider call(s) a partner" in out, out
    assert "(2,000 deliveries, 600 republications)" in out, out
