"""The state machine refuses every transition not on the list, and audits those it allows."""

from __future__ import annotations

import re
from itertools import product
from pathlib import Path

import pytest
from sqlmodel import select

from api.audit.models import AuditEntry
from api.audit.service import Actor
from api.core.errors import InvalidStateTransition
from api.licensing import states
from api.licensing.models import LicenceRequest
from api.licensing.states import LicenceState, RequestState
from tests.builders import make_article, make_licence, make_partner

RULES = Path(__file__).resolve().parents[2] / "docs" / "product-rules.md"


def _transitions_paragraph(text: str) -> str:
    """docs/product-rules.md, "Licence request states": the paragraph of backquoted transitions. The
    tables in the code must be exactly this list; any other transition is refused."""
    section = text.split("## Licence request states", 1)[1].split("\n## ", 1)[0]
    return next(p for p in section.split("\n\n") if p.lstrip().startswith("`submitted ->"))


TRANSITIONS = _transitions_paragraph(RULES.read_text())


def _listed_pairs(text: str) -> set[tuple[str, str]]:
    """Every (from, to) the product rules list. A chain `a -> b -> c | d` gives a->b, b->c, b->d; a bare
    `x` after "or" continues the previous chain's last source (`suspended -> active` or `revoked`)."""
    pairs: set[tuple[str, str]] = set()
    source = None
    for chunk in re.findall(r"`([^`]*)`", text):
        steps = [[name.strip() for name in step.split("|")] for step in chunk.split("->")]
        if len(steps) == 1:
            pairs.update((source, name) for name in steps[0])
            continue
        for before, after in zip(steps, steps[1:]):
            pairs.update((a, b) for a in before for b in after)
            source = before[-1]
    return pairs


LISTED_PAIRS = _listed_pairs(TRANSITIONS)
REQUEST_STATES, LICENCE_STATES = {str(s) for s in RequestState}, {str(s) for s in LicenceState}
ALLOWED = {
    "licence_request": {(a, b) for a, b in LISTED_PAIRS if a in REQUEST_STATES and b in REQUEST_STATES},
    "licence": {(a, b) for a, b in LISTED_PAIRS if a in LICENCE_STATES and b in LICENCE_STATES},
}
# `approved -> awaiting_payment` and `approved -> active`: an approval creates the licence in one of these.
GRANTED = {b for a, b in LISTED_PAIRS if a in REQUEST_STATES and b in LICENCE_STATES}
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


def test_the_product_rules_are_read_as_written() -> None:
    assert LISTED_PAIRS == {
        ("submitted", "in_review"), ("in_review", "approved"), ("in_review", "rejected"), ("in_review", "countered"),
        ("countered", "approved"), ("countered", "declined"), ("approved", "awaiting_payment"),
        ("awaiting_payment", "active"), ("approved", "active"), ("awaiting_payment", "cancelled"), ("active", "expired"), ("active", "revoked"),
        ("active", "suspended"), ("suspended", "active"), ("suspended", "revoked"),
    }
    # Every state the rules name is one of ours, and the rules' pairs are all accounted for.
    assert {s for pair in LISTED_PAIRS for s in pair} == REQUEST_STATES | LICENCE_STATES
    assert len(ALLOWED["licence_request"]) + len(ALLOWED["licence"]) + len(GRANTED) == len(LISTED_PAIRS)


def test_the_machine_is_the_product_rules() -> None:
    for kind, allowed in ALLOWED.items():
        listed = {(a, b) for a, nexts in states.MACHINES[kind].items() for b in nexts}
        assert listed == allowed, f"{kind}: not in the product rules {listed - allowed}, missing {allowed - listed}"
    assert set(states.MACHINES["licence"]) == LICENCE_STATES
    assert set(states.MACHINES["licence_request"]) == REQUEST_STATES


@pytest.mark.parametrize(("amount", "state"), [(0, "active"), (5000, "awaiting_payment")])
def test_an_approval_grants_a_licence_in_a_state_the_product_rules_allow(session, amount: int, state: str) -> None:
    licence = make_licence(session, partner=make_partner(session), articles=[make_article(session)], amount=amount)
    assert licence.state == state and state in GRANTED


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
