from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def console(app) -> Iterator[TestClient]:
    """A browser-like client on https (the console's cookie is Secure when the public URL is https)."""
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        yield client
