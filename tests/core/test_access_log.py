"""The access log: a JSON line per request from both paths (the content fast path and FastAPI),
written in batches, without secrets; with it off, server errors are still written."""

from __future__ import annotations

import io
import json

import pytest

from api.core.access_log import AccessLog
from tests.builders import make_article, make_licence, make_partner


@pytest.fixture
def logged(app, client):
    """The running app's access log, writing into a buffer."""
    before = app.access_log
    buffer = io.StringIO()
    app.access_log = AccessLog(stream=buffer)
    yield app.access_log, buffer
    app.access_log = before


def _lines(access_log: AccessLog, buffer: io.StringIO) -> list[dict]:
    access_log.flush()
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_every_request_is_one_json_line_with_its_status_and_request_id(client, logged):
    access_log, buffer = logged
    assert client.get("/healthz", headers={"X-Request-ID": "req-1"}).status_code == 200
    assert client.get("/v1/content/articles/art_nope?token=secret.value.here&format=json").status_code == 401
    health, content = _lines(access_log, buffer)
    assert (health["method"], health["path"], health["status"], health["request_id"]) == ("GET", "/healthz", 200, "req-1")
    assert content["path"] == "/v1/content/articles/art_nope?token=redacted&format=json" and content["status"] == 401
    assert content["request_id"] and content["ms"] >= 0 and content["ts"].endswith("Z")
    assert "secret" not in buffer.getvalue()


def test_a_content_delivery_is_logged_from_the_fast_path(client, session, logged):
    from tests.delivery.conftest import Setup, bearer, mint
    from tests.builders import make_api_key

    partner = make_partner(session)
    setup = Setup(partner, make_api_key(session, partner), [make_article(session)], None)
    setup.licence = make_licence(session, partner=partner, scope="catalogue")
    session.commit()
    token = mint(client, setup)["token"]
    access_log, buffer = logged
    response = client.get(f"/v1/content/articles/{setup.articles[0].id}", headers=bearer(token))
    assert response.status_code == 200
    (line,) = [entry for entry in _lines(access_log, buffer) if entry["path"].startswith("/v1/content/articles/")]
    assert line["status"] == 200 and line["request_id"] == response.headers["x-request-id"]


def test_with_the_access_log_off_only_server_errors_are_written():
    buffer = io.StringIO()
    access_log = AccessLog(everything=False, stream=buffer)
    scope = {"method": "GET", "path": "/x", "query_string": b"", "client": ("10.0.0.1", 5)}
    access_log.record(scope, 200, 0.0)
    access_log.record(scope, 404, 0.0)
    access_log.record(scope, 503, 0.0, b"r-9")
    access_log.flush()
    (line,) = [json.loads(text) for text in buffer.getvalue().splitlines()]
    assert (line["status"], line["client"], line["request_id"]) == (503, "10.0.0.1:5", "r-9")


def test_lines_past_the_limit_are_counted_not_kept_except_errors():
    buffer = io.StringIO()
    access_log = AccessLog(limit=2, stream=buffer)
    scope = {"method": "GET", "path": "/x", "query_string": b"", "client": None}
    for status in (200, 200, 200, 200, 500):
        access_log.record(scope, status, 0.0)
    access_log.flush()
    lines = [json.loads(text) for text in buffer.getvalue().splitlines()]
    assert [line.get("status") for line in lines] == [200, 200, 500, None]
    assert lines[-1] == {"event": "access_log_dropped", "lines": 2}
