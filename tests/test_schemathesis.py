"""Property-based contract tests: schemathesis generates requests from the OpenAPI document and
checks every answer against it (no 500s, declared status codes, content types and headers,
bodies valid against their schemas). Stateless: every operation, as a partner (API key) or, on
/v1/staff, as staff (a bearer token with every role). Stateful: chains of calls that follow the
links schemathesis infers between operations (create, then read, change, delete what was made).
`MAX_EXAMPLES` and `STEPS` bound the run (about two to three minutes per database).

Everything excluded is listed below with its reason; nothing else is.
"""

from __future__ import annotations

import types
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import (
    allow_header_conformance, ignored_auth, negative_data_rejection, positive_data_acceptance,
)

from api.staff.models import ROLES
from tests.builders import make_article, staff_headers
from tests.licensing.helpers import partner_with_key

MAX_EXAMPLES = 2
STEPS = 4

# Operations schemathesis does not call.
EXCLUDED_PATH_REGEX = "|".join((
    # Signed by Stripe: an unsigned request is refused before its body is read (400), or, with no
    # webhook secret configured as here, answered 503 on purpose; tests/billing sends signed events.
    r"^/v1/invoicing/stripe/webhook$",
    # The staff console answers HTML pages and form posts, not the JSON API; tests/console drives it.
    r"^/console",
))

# Checks switched off everywhere.
EXCLUDED_CHECKS = [
    # "Schema-valid request rejected": a schema cannot state the domain's rules (a cursor is an
    # opaque token of one listing, ids must exist, ISO codes are checked against pycountry, a period
    # ends after it starts, a rate card's prices cover its currencies), so a schema-valid request
    # may rightly get its 422 problem.
    positive_data_acceptance,
    # "Ignored auth": the public catalogue and the content routes answer without credentials by
    # design (browsing; a licence token in the query), so a request with a wrong key still succeeds.
    ignored_auth,
]
# Checks switched off in the stateful run only.
EXCLUDED_STATEFUL_CHECKS = [
    # "Schema-violating request accepted": the chains also send deliberately invalid requests, and
    # two of their kinds are answered on purpose: credentials are added to every call (so a request
    # meant to lack X-API-Key has one), and unknown query parameters are ignored, as HTTP APIs do
    # (cache-busters, tracking parameters), rather than refused.
    negative_data_rejection,
]


def shadows_a_template(path: str, paths) -> bool:
    """A literal path that a templated sibling also matches (`/v1/staff/articles/import` and
    `/v1/staff/articles/{article_id}`): a method only the sibling has is routed there, so the 405's
    Allow rightly lists the sibling's methods too, which this path's own operations do not."""
    parts = path.split("/")
    for other in paths:
        others = other.split("/")
        if other != path and len(others) == len(parts) and all(
                a == b or (b.startswith("{") and not a.startswith("{")) for a, b in zip(parts, others)):
            return True
    return False

BOUNDED = dict(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(autouse=True, scope="module")
def _lifespan_stopped_after_the_module():
    """schemathesis starts the app's lifespan on its first ASGI call and keeps it running until the
    process exits. Stopped here, so the session's app is not left half-started for later tests: a
    server of it would find the delivery runtime already running on schemathesis's event loop."""
    yield
    from schemathesis.python.asgi import shutdown_lifespans

    shutdown_lifespans()


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex=EXCLUDED_PATH_REGEX)


# The filter goes on the lazy schema too: the pytest integration selects operations from it.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path_regex=EXCLUDED_PATH_REGEX)


@pytest.fixture
def credentials(client, session, request) -> Iterator[dict[str, dict[str, str]]]:
    make_article(session)
    _partner, partner = partner_with_key(session)
    session.commit()
    staff = staff_headers(client, session, roles=list(ROLES))
    yield {"partner": partner, "staff": staff}
    if request.node.name == "test_each_staff_operation":
        # Had an operation ended the session, the staff operations after it met only 401s.
        assert client.get("/v1/staff/me", headers=staff).status_code == 200, "the staff session ended mid-run"


def _headers(case, credentials) -> dict[str, str]:
    return credentials["staff" if case.path.startswith("/v1/staff") else "partner"]


def _excluded(case) -> list:
    shadowing = shadows_a_template(case.path, case.operation.schema.raw_schema["paths"])
    return EXCLUDED_CHECKS + ([allow_header_conformance] if shadowing else [])


def test_the_shadowing_rule_names_only_literal_paths_under_a_template() -> None:
    paths = ["/v1/staff/articles/{article_id}", "/v1/staff/articles/import", "/v1/staff/articles", "/v1/x/{id}/y"]
    assert shadows_a_template("/v1/staff/articles/import", paths)
    assert not shadows_a_template("/v1/staff/articles/{article_id}", paths)
    assert not shadows_a_template("/v1/staff/articles", paths)


# The stateless run in groups of operations, one pytest test each, so that pytest-xdist can spread
# them over its workers (tests/conftest.py schedules this file by test, not whole): as one test it
# took a minute, and its worker ran nothing else meanwhile. Every operation is in exactly one group
# (checked below). Each group logs in afresh (`credentials` is per test), so /v1/staff/logout is a
# group of its own: in the staff group, early in the document's order, it ended the shared staff
# session and every staff operation after it met only 401s.
OPERATION_GROUPS = {
    "partner_accounts": r"^/v1/(partners|webhook-endpoints)(/|$)",
    "partner_licensing": r"^/v1/(licence-requests|licences)(/|$)",
    "staff": r"^/v1/staff(?!/logout$)(/|$)",
    "staff_logout": r"^/v1/staff/logout$",
    "public_and_the_rest": r"^/(?!v1/(partners|webhook-endpoints|licence-requests|licences|staff)(/|$))",
}


def test_every_operation_is_in_exactly_one_group(app) -> None:
    import re

    paths = app.openapi()["paths"]
    groups = {path: [name for name, regex in OPERATION_GROUPS.items() if re.search(regex, path)] for path in paths}
    assert {path: names for path, names in groups.items() if len(names) != 1} == {}


def test_each_operation(case, credentials) -> None:
    case.call_and_validate(headers=_headers(case, credentials), excluded_checks=_excluded(case))


test_each_operation.__test__ = False  # run through its groups below


def _each_operation_in(group: str):
    """`test_each_operation` for one group's operations. A copy of that very function, not one
    written again: with `derandomize`, hypothesis seeds the examples from the test function's source,
    so each operation gets the cases it always got."""
    copy = types.FunctionType(test_each_operation.__code__, test_each_operation.__globals__)
    bounded = settings(max_examples=MAX_EXAMPLES, phases=[Phase.explicit, Phase.generate], **BOUNDED)(copy)
    return schema.include(path_regex=OPERATION_GROUPS[group]).parametrize()(bounded)


test_each_partner_account_operation = _each_operation_in("partner_accounts")
test_each_partner_licensing_operation = _each_operation_in("partner_licensing")
test_each_staff_operation = _each_operation_in("staff")
test_staff_logout = _each_operation_in("staff_logout")
test_each_public_and_other_operation = _each_operation_in("public_and_the_rest")


def test_chains_of_operations(api_schema, credentials) -> None:
    class AsPartnerAndStaff(api_schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": _headers(case, credentials)}

        def validate_response(self, response, case, **kwargs) -> None:
            case.validate_response(response, excluded_checks=_excluded(case) + EXCLUDED_STATEFUL_CHECKS)

    AsPartnerAndStaff.run(settings=settings(max_examples=MAX_EXAMPLES * 5, stateful_step_count=STEPS, **BOUNDED))
