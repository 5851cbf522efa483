"""Small keyword-only builders that make real objects through the services."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

from sqlmodel import Session

from api.audit.service import Actor
from api.catalogue import service as catalogue
from api.catalogue.models import Article
from api.catalogue.schemas import ArticleCreate, AssetCreate
from api.core.db import utcnow
from api.partners import keys as partner_keys
from api.partners import service as partners
from api.partners.models import Partner, PartnerStatus
from api.staff import service as staff
from api.staff.models import StaffUser

_seq = count(1)
TEST_ACTOR = Actor("system", "tests")
STAFF_PASSWORD = "a-long-test-password"


def make_staff(session: Session, *, roles: list[str] | None = None, email: str | None = None) -> StaffUser:
    n = next(_seq)
    return staff.create_staff(session, email=email or f"staff{n}@example.com", name=f"Staff {n}",
                              password=STAFF_PASSWORD, roles=roles or ["admin"], actor=TEST_ACTOR)


def staff_headers(client, session: Session, *, roles: list[str] | None = None) -> dict[str, str]:
    """Create a staff user, commit, log in over HTTP and return the Authorization header."""
    user = make_staff(session, roles=roles)
    session.commit()
    response = client.post("/v1/staff/login", json={"email": user.email, "password": STAFF_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def make_article(
    session: Session, *, headline: str | None = None, section: str = "news", tags: list[str] | None = None,
    language: str = "en", licensable: bool = True, agency_photo: bool = False, body_html: str | None = None,
    published_days_ago: int = 1,
) -> Article:
    n = next(_seq)
    assets = [AssetCreate(url=f"https://img.example.com/{n}.jpg", caption="Staff picture", credit="MEE/Staff")]
    if agency_photo:
        assets.append(AssetCreate(url=f"https://img.example.com/{n}-wire.jpg", caption="Wire picture", credit="Reuters"))
    data = ArticleCreate(
        headline=headline or f"Article number {n}", standfirst=f"Standfirst {n}",
        body_html=body_html or f"<p>First paragraph of article {n}.</p><p>Second paragraph.</p>",
        byline="MEE staff", authors=["MEE staff"], canonical_url=f"https://www.middleeasteye.net/news/article-{n}",
        section=section, tags=tags or ["politics"], language=language, licensable=licensable,
        published_at=utcnow() - timedelta(days=published_days_ago), assets=assets,
    )
    article, _created, _changed = catalogue.upsert_article(session, data, actor=TEST_ACTOR)
    return article


def make_partner(
    session: Session, *, verified: bool = True, currency: str = "GBP", country: str = "GB", name: str | None = None,
) -> Partner:
    n = next(_seq)
    return partners.create_partner(
        session, name=name or f"Partner Outlet {n}", country=country, billing_email=f"billing{n}@outlet.example",
        currency=currency, website=f"https://outlet{n}.example", contacts=[{"name": "Editor", "email": f"editor{n}@outlet.example"}],
        status=PartnerStatus.active if verified else PartnerStatus.pending, actor=TEST_ACTOR,
    )


def make_api_key(session: Session, partner: Partner, *, name: str = "test key") -> str:
    _key, raw = partner_keys.issue_key(session, partner_id=partner.id, name=name)
    return raw


def make_licence(
    session: Session, *, partner: Partner, articles: list[Article] | None = None, scope: str | None = None,
    section: str | None = None, amount: int = 0, billing_mode: str = "one_off", use: str = "web",
    territories: list[str] | None = None, days: int = 30, monthly_quota: int | None = None,
    max_live_articles: int | None = None,
):
    """A request submitted and approved through the licensing services, and its licence (active
    when free, awaiting payment otherwise).

    The articles must be licensable (a section feed needs an article in that section) and the
    partner's currency must be on the rate card (GBP, EUR, USD by default). For convenience,
    `billing_mode` may be one the scope would not offer, and `days` may be zero or negative (a
    licence already past its end): both are set on the rows after the services have run.
    """
    from datetime import datetime, time

    from api.licensing import decisions, ratecard, requests
    from api.licensing.quotes import BILLING_MODES, TermsInput

    ratecard.ensure_default_rate_card(session)
    articles = articles or []
    scope = scope or ("article" if len(articles) == 1 else "bundle" if articles else "catalogue")
    now = utcnow()
    starts_at = max(now - timedelta(minutes=1), datetime.combine(now.date(), time.min, tzinfo=now.tzinfo))
    ends_at = now + timedelta(days=days)
    offered = [str(m) for m in BILLING_MODES[scope]]
    terms = TermsInput(
        scope=scope, use=use, territories=territories or ["GB"], audience_size=10_000,
        article_ids=[a.id for a in articles] if scope in ("article", "bundle") else [],
        section=section if scope == "section_feed" else None, language="en", starts_at=starts_at,
        ends_at=min(max(ends_at, now + timedelta(days=1)), now + timedelta(days=365 * 3)),
        billing_mode=billing_mode if billing_mode in offered else None, max_live_articles=max_live_articles,
    )
    request = requests.submit(session, partner=partner, terms=terms)
    if str(request.billing_mode) != billing_mode and billing_mode != "free":
        request.billing_mode = billing_mode
    if request.ends_at != ends_at:
        request.ends_at = ends_at
    session.add(request)
    session.flush()
    _request, licence = decisions.approve(session, request.id, actor=TEST_ACTOR, amount=amount,
                                          monthly_quota=monthly_quota)
    return licence
