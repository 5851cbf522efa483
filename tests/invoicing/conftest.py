from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.app import create_app
from api.audit.service import Actor
from api.core.config import Settings, configure_worker
from api.delivery import usage_log
from api.delivery.models import UsageEvent
import api.invoicing.jobs  # noqa: F401 - registers the outbox handlers
from tests.billing.conftest import stripe_backend, stripe_double  # noqa: F401 - shared fixtures
from tests.billing.events import WEBHOOK_SECRET
from tests.billing.stripe_server import StripeDouble
from tests.conftest import make_settings

FINANCE = Actor("staff", "stf_finance")


@pytest.fixture(autouse=True)
def ledger_settings(settings: Settings) -> Iterator[Settings]:
    """Outbox handlers and jobs bill through the ledger unless a test switches to Stripe (as the
    app's start-up configures them, for handlers run outside an app)."""
    before = configure_worker(settings)
    yield settings
    configure_worker(before)


@pytest.fixture
def stripe_settings(database_url: str, stripe_double: StripeDouble, ledger_settings) -> Iterator[Settings]:  # noqa: F811
    configured = make_settings(database_url, billing_backend="stripe", stripe_api_key="sk_test_syndicate",
                               stripe_api_base=stripe_double.url, stripe_webhook_secret=WEBHOOK_SECRET)
    before = configure_worker(configured)
    yield configured
    configure_worker(before)


@pytest.fixture
def stripe_client(app, stripe_settings: Settings) -> Iterator[TestClient]:
    """The API configured for Stripe (against the loopback double), on the same test database."""
    stripe_app = create_app(stripe_settings, run_worker=False)
    with TestClient(stripe_app, raise_server_exceptions=False) as client:
        yield client


def add_usage(session: Session, licence, article, *, at: datetime, billable: bool = True) -> UsageEvent:
    return usage_log.add_event(session, licence_id=licence.id, partner_id=licence.partner_id, article_id=article.id,
                               at=at, billable=billable)


@pytest.fixture(autouse=True)
def _cli_uses_the_test_database(monkeypatch, database_url: str) -> Iterator[None]:
    """`syndicate invoicing ...` checks the database it is configured with before it runs: point the
    CLI's settings (SYNDICATE_DATABASE_URL) at the test database, as a deployment would."""
    from api.core.config import get_settings

    monkeypatch.setenv("SYNDICATE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
