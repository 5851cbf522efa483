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


_app = None


@pytest.fixture(autouse=True)
def _beacon_buffer(app):
    global _app
    _app = app
    yield
    app.state.beacons.flush()  # nothing of this test's is left to be counted in the next one's database


def flush_beacons() -> None:
    """Count the hits the app has buffered (its flusher would within ~100 ms): before reading counts."""
    assert _app is not None
    _app.state.beacons.flush()
