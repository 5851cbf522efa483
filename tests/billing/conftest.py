from __future__ import annotations

from collections.abc import Iterator

import pytest

from billing.stripe_backend import StripeBackend
from tests.billing.events import WEBHOOK_SECRET
from tests.billing.stripe_server import StripeDouble


@pytest.fixture
def stripe_double() -> Iterator[StripeDouble]:
    double = StripeDouble()
    yield double
    try:
        double.stop()
    except OSError:
        pass


@pytest.fixture
def stripe_backend(stripe_double: StripeDouble) -> StripeBackend:
    return StripeBackend("sk_test_syndicate", api_base=stripe_double.url, webhook_secret=WEBHOOK_SECRET,
                         max_network_retries=0)
