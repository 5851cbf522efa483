"""A Python client generated from the committed contract by openapi-python-client works against the
app over real HTTP: the contract is one an SDK generator reads without warnings, and its operation
ids make function names a partner developer can type (`articles_list`, `quotes_create`)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import make_api_key, make_article, make_partner
from tests.licensing.helpers import request_body
from tests.live_server import served

OPENAPI = Path(__file__).resolve().parents[1] / "openapi"


@pytest.fixture(scope="module")
def generated_client(tmp_path_factory) -> Path:
    """Generates `syndicate_client` from openapi/openapi.json (with the committed generator config)."""
    where = tmp_path_factory.mktemp("sdk")
    result = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(OPENAPI / "openapi.json"),
         "--config", str(OPENAPI / "openapi-python-client.yaml"), "--meta", "none"],
        cwd=where, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "Warning" not in output and "WARNING" not in output, output
    sys.path.insert(0, str(where))
    try:
        yield where
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m == "syndicate_client" or m.startswith("syndicate_client.")]:
            del sys.modules[name]


def _operation(module: str):
    return importlib.import_module(f"syndicate_client.api.{module}")


def test_the_generated_client_calls_the_api(generated_client, app, session) -> None:
    from syndicate_client import AuthenticatedClient, Client
    from syndicate_client.models import TermsBody

    article = make_article(session, headline="A generated client reads this")
    partner = make_partner(session, currency="GBP")
    key = make_api_key(session, partner)
    session.commit()

    with served(app) as url:
        with Client(base_url=url, raise_on_unexpected_status=True) as anonymous:
            page = _operation("catalogue.articles_list").sync(client=anonymous)
            assert [item.headline for item in page.items] == ["A generated client reads this"]
            one = _operation("catalogue.articles_get").sync(article.id, client=anonymous)
            assert one.id == article.id
            form = _operation("licensing.licence_requests_form_get").sync(client=anonymous)
            assert "territories" in [field.name for field in form.fields]

        with AuthenticatedClient(base_url=url, token=key, prefix="", auth_header_name="X-API-Key",
                                 raise_on_unexpected_status=True) as partner_client:
            body = TermsBody.from_dict(request_body(article_ids=[article.id]))
            quote = _operation("licensing.quotes_create").sync(client=partner_client, body=body)
            assert quote.amount > 0 and quote.currency == "GBP"
            me = _operation("partners.partners_me_get").sync(client=partner_client)
            assert me.id == partner.id

            refused = _operation("licensing.licence_requests_get").sync_detailed("lrq_missing", client=partner_client)
            assert refused.status_code == 404 and refused.parsed.type_ == "/problems/licence-request-not-found"
