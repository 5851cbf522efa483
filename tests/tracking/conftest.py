"""Tracking tests share delivery's setup: a partner, its licence, tokens and webhook receivers."""

from __future__ import annotations

import pytest

from api.tracking import service
from tests.delivery.conftest import allow_private_networks, licensed, misbehaving, receiver  # noqa: F401


@pytest.fixture(autouse=True)
def fresh_day_keys():
    """Each test's database starts without day keys, so no process may remember one from another test."""
    service.forget_day_keys()
    yield
    service.forget_day_keys()
