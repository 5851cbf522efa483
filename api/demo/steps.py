"""Demo steps that need the licensing, billing or delivery domains."""

from __future__ import annotations

STEPS: list = []
