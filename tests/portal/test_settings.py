"""The portal's and republish page's settings and shared page headers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.core.config import Settings

PRODUCTION = {"environment": "production", "secret_key": "x" * 40}


def test_frame_ancestors_are_origins() -> None:
    assert Settings(republish_frame_ancestors=" https://a.example  https://b.example ").republish_frame_ancestors == \
        "https://a.example https://b.example"
    with pytest.raises(ValidationError, match="is not an origin"):
        Settings(republish_frame_ancestors="https://a.example/news")


def test_console_pages_send_the_shared_security_headers(client) -> None:
    page = client.get("/console/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["referrer-policy"] == "same-origin"
