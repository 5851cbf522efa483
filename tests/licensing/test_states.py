"""The state machine refuses every transition not on the list, and audits those it allows."""

from __future__ import annotations

from itertools import product

import pytest
from sqlmodel import select

from api.audit.models import AuditEntry
from api.audit.service import Actor
from api.core.errors import InvalidStateTransition
from api.licensing import states
from api.licensing.models import LicenceRequest
from api.licensing.states import LicenceState, RequestState
from tests.builders import make_article, make_licence, make_partner

ALLOWED = {
    "licence_request": {
        ("submitted", "in_review"), ("in_review", "approved"), ("in_review", "rejected"), ("in_review", "countered"),
        ("countered", "approved"), ("countered", "declined"),
    },
    "licence": {
        ("awaiting_payment", "active"), ("awaiting_payment", "revoked"), ("active", "expired"), ("active", "revoked"),
        ("active", "suspended"), ("suspended", "active"), ("suspended", "revoked"),
    },
}
PAIRS = [("licence_request", a, b) for a, b in product(RequestState, RequestState)] + \
        [("licence", a, b) for a, b in product(LicenceState, LicenceState)]


def _thing(session, kind: str, state: str):
    """A real request or licence put straight into `state` (bypassing the machine, to test it)."""
    partner = make_partner(session)
    licence = make_licence(session, partner=partner, articles=[make_article(session)])
    thing = licence if kind == "licence" else session.get(LicenceRequest, licence.request_id)
    thing.state = state
    session.add(thing)
    session.flush()
    return thing


def test_the_machine_is_the_product_brief() -> None:
    for kind, allowed in ALLOWED.items():
        listed = {(a, b) for a, nexts in states.MACHINES[kind].items() for b in nexts}
        assert listed == allowed


def _audit_count(session, object_id: str) -> int:
    return len(session.exec(select(AuditEntry).where(AuditEntry.object_id == object_id)).all())


@pytest.mark.parametrize(("kind", "current", "target"), PAIRS, ids=[f"{k}:{a}->{b}" for k, a, b in PAIRS])
def test_every_pair(session, kind: str, current: str, target: str) -> None:
    thing = _thing(session, kind, str(current))
    before = _audit_count(session, thing.id)
    if (str(current), str(target)) in ALLOWED[kind]:
        states.transition(session, thing, target, kind=kind, actor=Actor.system("tests"))
        assert thing.state == target and thing.state_changed_at is not None
        assert _audit_count(session, thing.id) == before + 1
        entry = session.exec(select(AuditEntry).where(AuditEntry.object_id == thing.id)
                             .order_by(AuditEntry.at.desc())).first()
        assert entry.before == {"state": current} and entry.after == {"state": target}
    else:
        with pytest.raises(InvalidStateTransition) as excinfo:
            states.transition(session, thing, target, kind=kind, actor=Actor.system("tests"))
        assert excinfo.value.status == 409 and excinfo.value.type_uri() == "/problems/invalid-transition"
        assert thing.state == current
        assert _audit_count(session, thing.id) == before
