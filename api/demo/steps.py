"""Demo steps that need the licensing, billing or delivery domains."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from api.audit.service import Actor
from api.core.db import utcnow
from api.core.money import format_money
from api.licensing import service as licensing
from api.licensing.models import Licence, LicenceRequest, ScopeKind, Use
from api.licensing.service import TermsInput

# Everything the demo creates is audited as this actor.
DEMO_ACTOR = Actor.system("demo")


def rate_card(session, settings, partner, articles) -> list[str]:
    version = licensing.ensure_default_rate_card(session)
    return [f"rate card version {version.version} (GET /v1/rate-card)"]


def licences(session, settings, partner, articles) -> list[str]:
    """A free, active licence for the whole catalogue, and a paid request waiting in the staff queue."""
    # The demo's own catalogue licence, not whichever licence someone trying the demo approved since.
    existing = session.exec(select(Licence).where(Licence.partner_id == partner.id, Licence.scope == ScopeKind.catalogue)
                            .order_by(col(Licence.created_at))).first()
    if existing is None:
        now = utcnow()
        terms = TermsInput(scope=ScopeKind.catalogue, use=Use.web, territories=["GB"], audience_size=50_000, language="en",
                           starts_at=now, ends_at=now + timedelta(days=365))
        request = licensing.submit_request(session, partner=partner, terms=terms, notes="Demo: whole catalogue for our website")
        _request, existing = licensing.approve(session, request.id, actor=DEMO_ACTOR, amount=0,
                                               conditions=["Demo licence: free of charge"])
    queued = session.exec(select(LicenceRequest).where(LicenceRequest.partner_id == partner.id,
                                                       LicenceRequest.state == "in_review")).first()
    if queued is None and articles:
        now = utcnow()
        terms = TermsInput(scope=ScopeKind.article, use=Use.print, territories=["FR", "BE"], audience_size=250_000,
                           article_ids=[articles[0].id], language="fr", translation=True,
                           starts_at=now, ends_at=now + timedelta(days=90))
        queued = licensing.submit_request(session, partner=partner, terms=terms, notes="Demo: print edition, translated into French")
    lines = [f"licence {existing.id} ({existing.state}, {existing.scope})"]
    if queued is not None:
        lines.append(f"licence request {queued.id} waiting in the staff queue ({format_money(queued.quoted_amount, queued.currency)})")
    return lines


STEPS: list = [rate_card, licences]
