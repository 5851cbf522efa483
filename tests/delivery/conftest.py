"""Delivery test helpers: a partner with an API key, articles, a licence and a token."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.builders import make_api_key, make_article, make_licence, make_partner
from tests.delivery.receivers import Answer, Misbehaving, Receiver


@dataclass
class Setup:
    partner: object
    api_key: str
    articles: list
    licence: object

    @property
    def key_headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}


def mint(client, setup: Setup, licence_id: str | None = None, **body) -> dict:
    response = client.post(f"/v1/licences/{licence_id or setup.licence.id}/tokens", headers=setup.key_headers,
                           json=body or None)
    assert response.status_code == 201, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def licensed(session) -> Setup:
    """A verified partner holding an active free bundle licence to two articles (one with a Reuters photo)."""
    partner = make_partner(session)
    api_key = make_api_key(session, partner)
    articles = [make_article(session, agency_photo=True), make_article(session)]
    licence = make_licence(session, partner=partner, articles=articles, scope="bundle")
    session.commit()
    return Setup(partner, api_key, articles, licence)


@pytest.fixture
def allow_private_networks(settings, monkeypatch):
    """The receivers listen on 127.0.0.1, which webhooks may reach only when the setting says so."""
    from api.core import config

    monkeypatch.setattr(settings, "webhook_allow_private_networks", True)
    # The worker's settings are the app's; another app built meanwhile (the OpenAPI render) replaces them.
    monkeypatch.setattr(config, "_worker_settings", settings)
    return settings


@pytest.fixture
def receiver(allow_private_networks):
    """Makes well-behaved endpoints: `receiver([500, (503, {"Retry-After": "60"})])` fails twice, then answers 204."""
    created: list[Receiver] = []

    def make(statuses: list[Answer]) -> Receiver:
        created.append(Receiver(statuses))
        return created[-1]

    yield make
    for r in created:
        r.server.shutdown()


@pytest.fixture
def misbehaving(allow_private_networks):
    servers = Misbehaving()
    yield servers
    servers.close()
