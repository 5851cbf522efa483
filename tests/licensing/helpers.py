"""Helpers private to the licensing tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session

from api.core.db import utcnow
from tests.builders import make_api_key, make_partner


def partner_with_key(session: Session, **kwargs: Any) -> tuple[Any, dict[str, str]]:
    partner = make_partner(session, **kwargs)
    key = make_api_key(session, partner)
    return partner, {"X-API-Key": key}


def request_body(**overrides: Any) -> dict[str, Any]:
    """A valid request body for one article (pass article_ids)."""
    body: dict[str, Any] = {
        "scope": "article", "use": "web", "territories": ["GB"], "language": "en",
        "starts_at": (utcnow() + timedelta(days=1)).isoformat(), "period_months": 1, "audience_size": 5000,
    }
    body.update(overrides)
    return body
