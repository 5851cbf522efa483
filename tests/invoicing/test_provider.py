"""The worker's outbox handlers and jobs bill with the running app's settings, not the environment's."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from api.core.config import worker_settings
from api.invoicing import provider


def test_the_app_configures_its_workers_billing_and_puts_it_back(engine, ledger_settings) -> None:
    own = ledger_settings.model_copy(update={"payment_grace_days": ledger_settings.payment_grace_days + 1})
    app = create_app(own, run_worker=False)
    assert worker_settings() is ledger_settings  # built, not started: the settings in force stay
    with TestClient(app):
        assert worker_settings() is own and provider.backend().name == own.billing_backend
    assert worker_settings() is ledger_settings
