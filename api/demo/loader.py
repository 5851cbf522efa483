"""Demo data for `syndicate serve --demo`: staff, a verified partner with an API key, articles,
the default rate card and a free licence. Safe to run again: it updates rather than duplicates."""

from __future__ import annotations

import json
from importlib import resources

from sqlalchemy import Engine
from sqlmodel import select

from api.catalogue import service as catalogue
from api.catalogue.schemas import ArticleCreate
from api.core.config import Settings
from api.core.db import session_scope
from api.demo.steps import DEMO_ACTOR, STEPS
from api.partners import keys as partner_keys
from api.partners import service as partners
from api.partners.models import Partner, PartnerStatus
from api.staff import service as staff
from api.staff.models import StaffUser

DEMO_PASSWORD = "syndicate-demo-password"
DEMO_STAFF = [
    ("admin@syndicate.local", "Demo Admin", ["admin"]),
    ("licensing@syndicate.local", "Demo Licensing Desk", ["licensing"]),
    ("finance@syndicate.local", "Demo Finance", ["finance"]),
    ("editor@syndicate.local", "Demo Editor", ["editor"]),
]
DEMO_PARTNER = "Demo Partner Outlet"


def _articles() -> list[ArticleCreate]:
    raw = json.loads(resources.files("api.demo").joinpath("articles.json").read_text())
    return [ArticleCreate.model_validate(item) for item in raw]


def load_demo(engine: Engine, settings: Settings) -> list[str]:
    """Load the demo data and return lines of credentials to print."""
    lines: list[str] = []
    with session_scope(engine) as session:
        for email, name, roles in DEMO_STAFF:
            if session.exec(select(StaffUser).where(StaffUser.email == email)).first() is None:
                staff.create_staff(session, email=email, name=name, password=DEMO_PASSWORD, roles=roles, actor=DEMO_ACTOR)
            lines.append(f"staff {email:<28} password {DEMO_PASSWORD}  ({', '.join(roles)})")
        articles = [catalogue.upsert_article(session, data, actor=DEMO_ACTOR)[0] for data in _articles()]
        partner = session.exec(select(Partner).where(Partner.name == DEMO_PARTNER)).first()
        if partner is None:
            partner = partners.create_partner(
                session, name=DEMO_PARTNER, country="GB", billing_email="billing@partner.example", currency="GBP",
                website="https://partner.example", contacts=[{"name": "Web Editor", "email": "web@partner.example"}],
                status=PartnerStatus.active, actor=DEMO_ACTOR,
            )
        raw_key = _demo_key(session, settings, partner)
        lines.append(f"partner {partner.name} ({partner.id})  X-API-Key: {raw_key}")
        for extra in STEPS:
            lines.extend(extra(session, settings, partner, articles))
    return lines


def _demo_key(session, settings: Settings, partner: Partner) -> str:
    """The demo partner's key is derived from the secret key, so it stays the same across reruns (a
    README or a script written against the first run keeps working). Raw keys are never stored:
    rerunning finds the key by its hash; one the operator revoked is replaced by a fresh one."""
    seed = b"syndicate-demo-partner-key:" + settings.secret_key.get_secret_value().encode()
    raw, _prefix = partner_keys.generate_key(seed)
    existing = partner_keys.find_key(session, raw)
    if existing is not None and existing.revoked_at is None:
        return raw
    if existing is not None:
        _key, raw = partner_keys.issue_key(session, partner_id=partner.id, name="demo")
        return raw
    _key, raw = partner_keys.issue_key(session, partner_id=partner.id, name="demo", seed=seed)
    return raw

