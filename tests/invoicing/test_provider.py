"""The worker's outbox handlers and jobs bill with the running app's settings, not the environment's."""

from __future__ import annotations

from api.app import create_app
from api.core.config import configure_worker, worker_settings
from api.invoicing import provider


def test_the_app_configures_its_workers_billing(engine, ledger_settings) -> None:
    own = ledger_settings.model_copy(update={"payment_grace_days": ledger_settings.payment_grace_days + 1})
    before = worker_settings()
    try:
        create_app(own, run_worker=False)
        assert worker_settings() is own
        assert provider.backend().name == own.billing_backend
    finally:
        configure_worker(before)
