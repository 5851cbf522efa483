"""Retiring a signing key takes effect at once in every API process: two real uvicorn servers on
one database refuse its tokens within the delivery poll and stop publishing it in their JWKS."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from jose import jwt
from sqlmodel import select

from api.audit.models import AuditEntry
from api.cli import app as cli
from api.core.db import session_scope
from api.delivery import keys, service, tokens
from api.delivery.runtime import POLL_SECONDS
from tests.builders import staff_headers
from tests.conftest import CHEAP_PASSWORD_HASHING_ENV, cli_runner
from tests.delivery.conftest import bearer

ROOT = Path(__file__).resolve().parents[2]
# The poll interval, plus a request's worth of slack on a busy two-core machine.
WITHIN = POLL_SECONDS + 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(settings, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SYNDICATE_DATABASE_URL": settings.database_url,
           "SYNDICATE_ENVIRONMENT": "test", "SYNDICATE_SECRET_KEY": settings.secret_key.get_secret_value(),
           "SYNDICATE_PUBLIC_BASE_URL": settings.public_base_url, "SYNDICATE_RUN_WORKER_IN_PROCESS": "false",
           "SYNDICATE_EMAIL_SENDER": "log", "SYNDICATE_JWT_ISSUER": settings.jwt_issuer,
           "SYNDICATE_JWT_AUDIENCE": settings.jwt_audience, **CHEAP_PASSWORD_HASHING_ENV}
    env.pop("SYNDICATE_REDIS_URL", None)
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port",
                                 str(port), "--log-level", "warning"], cwd=ROOT, env=env, stdout=out, stderr=out)


@pytest.fixture
def two_servers(app, settings, tmp_path) -> Iterator[list[str]]:
    """Two API processes on the test database (its schema built by `app`), stopped before the
    database is cleaned."""
    ports = [_free_port(), _free_port()]
    processes = [_serve(settings, port, tmp_path / f"server-{port}.log") for port in ports]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 60
        for url, process, port in zip(urls, processes, ports):
            while True:
                assert process.poll() is None, (tmp_path / f"server-{port}.log").read_text()
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.1)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def cli_as_app(cli_env, settings, monkeypatch) -> None:
    """The CLI on the app's database with the app's secret (which encrypts the signing keys it makes)."""
    monkeypatch.setenv("SYNDICATE_SECRET_KEY", settings.secret_key.get_secret_value())


def _signed_with(engine, settings, kid: str, claims: dict) -> str:
    """A token signed with `kid`'s private key now, as whoever holds that key could."""
    with session_scope(engine) as session:
        pem = keys.private_pem(settings, session.get(keys.SigningKey, kid))
    return jwt.encode(claims, pem, algorithm="ES256", headers={"kid": kid, "typ": "JWT"})


def _until(check, what: str, within: float = WITHIN) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {within} s"
        time.sleep(0.05)


def test_a_retired_key_is_refused_at_once_by_every_server_and_leaves_their_jwks(
        two_servers, licensed, engine, settings, cli_as_app) -> None:
    first, second = two_servers
    minted = httpx.post(f"{first}/v1/licences/{licensed.licence.id}/tokens", headers=licensed.key_headers).json()
    old_kid = minted["kid"]
    with session_scope(engine) as session:
        new_kid = service.rotate_keys(session, settings)
    claims = jwt.get_unverified_claims(minted["token"]) | {"jti": "signed-after-rotation"}
    fresh_old = _signed_with(engine, settings, old_kid, claims)
    fresh_new = _signed_with(engine, settings, new_kid, claims | {"jti": "signed-with-the-new-key"})
    article = f"/v1/content/articles/{licensed.articles[1].id}"
    for server in two_servers:  # rotation alone keeps the old key verifying; each server caches these tokens
        for token in (minted["token"], fresh_old, fresh_new):  # the new key: once the server's poll has seen it
            _until(lambda: httpx.get(server + article, headers=bearer(token)).status_code == 200,  # noqa: B023
                   f"{server} does not serve a token of a verifying key")

    result = cli_runner.invoke(cli, ["keys", "retire", old_kid])
    assert result.exit_code == 0, result.output

    for server in two_servers:
        for token in (fresh_old, minted["token"]):
            def refused(server=server, token=token) -> bool:
                response = httpx.get(server + article, headers=bearer(token))
                return response.status_code == 401 and response.json()["type"] == "/problems/invalid-token"
            _until(refused, f"{server} still serves a token of the retired key")
        published = httpx.get(f"{server}/.well-known/jwks.json")
        assert published.headers["cache-control"] == "public, no-cache"
        kids = {key["kid"] for key in published.json()["keys"]}
        assert old_kid not in kids and new_kid in kids
        assert httpx.get(server + article, headers=bearer(fresh_new)).status_code == 200
    with session_scope(engine) as session:
        [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "signing_key.retired")).all()
        assert (entry.object_id, entry.actor_type, entry.actor_id) == (old_kid, "system", "cli")


# --- in this process -----------------------------------------------------------------------------

def test_retiring_the_signing_key_starts_a_new_one_and_audits(client, licensed, engine, settings, cli_as_app) -> None:
    signing = client.post(f"/v1/licences/{licensed.licence.id}/tokens", headers=licensed.key_headers).json()
    article = f"/v1/content/articles/{licensed.articles[0].id}"
    assert client.get(article, headers=bearer(signing["token"])).status_code == 200
    result = cli_runner.invoke(cli, ["keys", "retire", signing["kid"]])
    assert result.exit_code == 0, result.output
    refused = client.get(article, headers=bearer(signing["token"]))  # this process: at commit, no poll needed
    assert refused.status_code == 401 and "retired" in refused.json()["detail"]
    replacement = client.post(f"/v1/licences/{licensed.licence.id}/tokens", headers=licensed.key_headers).json()
    assert replacement["kid"] != signing["kid"]
    assert client.get(article, headers=bearer(replacement["token"])).status_code == 200
    assert [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]] == [replacement["kid"]]
    again = cli_runner.invoke(cli, ["keys", "retire", signing["kid"]])  # already retired: nothing more happens
    assert again.exit_code == 0, again.output
    with session_scope(engine) as session:
        entries = session.exec(select(AuditEntry).where(AuditEntry.action == "signing_key.retired")).all()
        assert [(e.object_id, e.before["signing"]) for e in entries] == [(signing["kid"], True)]


def test_retiring_an_unknown_key_is_a_clear_error(cli_env) -> None:
    result = cli_runner.invoke(cli, ["keys", "retire", "kid_nobody"])
    assert result.exit_code == 2 and "No signing key kid_nobody" in result.output


def test_a_key_stops_verifying_at_its_deadline_without_a_reload(client, licensed, engine, settings, monkeypatch) -> None:
    """A rotated key's window ends while no process reloads its keys: its tokens, cached or not,
    are refused from that moment (the JWKS, read from the database, drops it then too)."""
    minted = client.post(f"/v1/licences/{licensed.licence.id}/tokens", headers=licensed.key_headers).json()
    with session_scope(engine) as session:
        service.rotate_keys(session, settings)
        deadline = session.get(keys.SigningKey, minted["kid"]).verify_until.timestamp()
    article = f"/v1/content/articles/{licensed.articles[0].id}"
    assert client.get(article, headers=bearer(minted["token"])).status_code == 200  # verified and cached
    uncached = _signed_with(engine, settings, minted["kid"], jwt.get_unverified_claims(minted["token"]) | {"jti": "late"})
    real_time = time.time
    monkeypatch.setattr(tokens.time, "time", lambda: max(real_time(), deadline))
    for token in (minted["token"], uncached):
        refused = client.get(article, headers=bearer(token))
        assert refused.status_code == 401 and refused.json()["type"] == "/problems/invalid-token"


def test_an_admin_retires_a_key_over_the_staff_api(client, session, licensed, engine) -> None:
    minted = client.post(f"/v1/licences/{licensed.licence.id}/tokens", headers=licensed.key_headers).json()
    admin = staff_headers(client, session, roles=["admin"])
    licensing = staff_headers(client, session, roles=["licensing"])
    url = f"/v1/staff/signing-keys/{minted['kid']}/retire"
    refused = client.post(url, headers=licensing)
    assert refused.status_code == 403 and refused.json()["permission"] == "signing-keys"
    missing = client.post("/v1/staff/signing-keys/kid_nobody/retire", headers=admin)
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/signing-key-not-found"
    retired = client.post(url, headers=admin)
    assert retired.status_code == 200, retired.text
    assert retired.json()["kid"] == minted["kid"] and retired.json()["verify_until"] == retired.json()["retired_at"]
    article = f"/v1/content/articles/{licensed.articles[0].id}"
    assert client.get(article, headers=bearer(minted["token"])).status_code == 401
    assert minted["kid"] not in {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]}
    with session_scope(engine) as s:
        [entry] = s.exec(select(AuditEntry).where(AuditEntry.action == "signing_key.retired")).all()
        assert entry.actor_type == "staff" and entry.object_id == minted["kid"]
