"""Least privilege: every staff operation of the app (API and console), found by walking the app's own
routes, answers each role as the permission table says: allowed -> anything but 403, denied -> 403
with the stable `/problems/role-required` type (the console: its 403 refusal page)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from api.console.deps import current_staff
from api.deps import get_staff_auth
from api.staff.models import ROLES
from api.staff.permissions import PERMISSIONS, roles_allowed
from tests.builders import staff_headers
from tests.console.helpers import log_in

# Operations on one's own staff session: every role has them.
OWN_SESSION = {("GET", "/v1/staff/me"), ("POST", "/v1/staff/logout"), ("POST", "/v1/staff/reauthenticate"),
               ("POST", "/v1/staff/me/password"), ("GET", "/console"), ("POST", "/console/logout"),
               ("GET", "/console/password"), ("POST", "/console/password")}
PUBLIC = {("POST", "/v1/staff/login"), ("GET", "/console/login"), ("POST", "/console/login")}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    permission: str | None  # None: one of OWN_SESSION
    console: bool

    @property
    def url(self) -> str:
        return re.sub(r"\{[^}]+\}", "x_missing", self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _dependencies(dependant) -> Iterator:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _dependencies(dependency)


def staff_operations(app) -> list[Operation]:
    """Every route under /v1/staff or /console, and any other route that authenticates staff."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        calls = list(_dependencies(route.dependant))
        api, console = get_staff_auth in calls, current_staff in calls
        for method in sorted(route.methods):
            key = (method, context.path)
            if key in PUBLIC:
                continue
            if not (api or console):
                assert not context.path.startswith(("/v1/staff", "/console")), f"{key} does not authenticate staff"
                continue
            named = [call.permission for call in calls if hasattr(call, "permission")]
            assert len(named) == 1 or (not named and key in OWN_SESSION), (
                f"{method} {context.path} must name exactly one permission from api/staff/permissions.py "
                f"(StaffMay / ConsoleStaffMay / PostingStaffMay), not check roles itself; it names {named}")
            found.append(Operation(method, context.path, named[0] if named else None, console))
    return found


def test_the_table_gives_each_role_only_its_work() -> None:
    held = {role: {name for name in PERMISSIONS if role in roles_allowed(name)} for role in ROLES}
    assert held["editor"] == {"articles"}
    assert held["licensing"] == {"licensing", "partners", "audit", "partner-details", "usage"}
    assert held["finance"] == {"invoices", "revenue", "partner-details", "usage"}
    assert held["admin"] == set(PERMISSIONS)


def test_every_permission_guards_some_operation(app) -> None:
    assert {op.permission for op in staff_operations(app)} - {None} == set(PERMISSIONS)


@pytest.fixture
def api_headers(client, session) -> dict[str, dict[str, str]]:
    return {role: staff_headers(client, session, roles=[role]) for role in ROLES}


@pytest.fixture
def consoles(app, client, session) -> Iterator[dict[str, tuple[TestClient, str]]]:
    """One logged-in browser per role, with its CSRF token. The test's `client` runs the app's
    lifespan; these do not run it again (a nested stop waits out the delivery runtime's timeout)."""
    clients = {role: TestClient(app, base_url="https://testserver", raise_server_exceptions=False) for role in ROLES}
    try:
        yield {role: (client, log_in(client, session, roles=[role])) for role, client in clients.items()}
    finally:
        for client in clients.values():
            client.close()


def _own_session_last(op: Operation) -> bool:
    return op.permission is None and op.method == "POST"  # logging out ends the session the others use


def test_every_role_on_every_staff_operation(app, client, api_headers, consoles) -> None:
    operations = sorted(staff_operations(app), key=_own_session_last)
    assert len([op for op in operations if not op.console]) >= 40 and len([op for op in operations if op.console]) >= 14
    wrong = []
    for op in operations:
        allowed = roles_allowed(op.permission) if op.permission else set(ROLES)
        for role in ROLES:
            if op.console:
                browser, csrf = consoles[role]
                response = browser.request(op.method, op.url, data={"csrf_token": csrf} if op.method == "POST" else None,
                                           follow_redirects=False)
                refused = response.status_code == 403 and f"(permission `{op.permission}`)" in response.text
            else:
                response = client.request(op.method, op.url, headers=api_headers[role],
                                          json={} if op.method in ("POST", "PUT", "PATCH") else None)
                refused = (response.status_code == 403
                           and response.headers["content-type"].startswith("application/problem+json")
                           and response.json()["type"] == "/problems/role-required"
                           and response.json()["permission"] == op.permission)
            if (role in allowed) == (response.status_code == 403) or (role not in allowed and not refused):
                wrong.append(f"{op} as {role}: {response.status_code} {response.text[:160]}")
    assert not wrong, "\n".join(wrong)
