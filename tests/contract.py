"""The app's OpenAPI document, rendered once per test run: rendering builds a whole app (a few
seconds), and the tests that inspect the document only read it (each parses its own copy)."""

from __future__ import annotations

from functools import cache

from api.contract import render as render_document


@cache
def render() -> str:
    return render_document()
