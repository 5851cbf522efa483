"""The republish page: what it shows, its quote (with and without JavaScript), and its submit:
one pending partner and one request per form, field errors in words, nothing half-written."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.catalogue import service as catalogue
from api.catalogue.schemas import ArticleCreate
from api.licensing.models import LicenceRequest
from api.outbox.models import OutboxMessage
from api.partners.models import Partner
from tests.builders import TEST_ACTOR, make_article, make_partner


@pytest.fixture
def web(app) -> TestClient:
    # The test settings' public URL is https: the portal's Secure cookie is only sent back over https.
    with TestClient(app, base_url="https://syndicate.test", raise_server_exceptions=False) as test_client:
        yield test_client


def _form(web: TestClient, slug: str) -> dict[str, str]:
    page = web.get(f"/republish/{slug}")
    assert page.status_code == 200, page.text
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)[1]
    check = re.search(r'name="form_check" value="([^"]+)"', page.text)[1]
    return {"form_token": token, "form_check": check}


def _fields(**changes: Any) -> dict[str, Any]:
    fields = {"use": "web", "territories": ["GB"], "language": "en", "period_months": "3", "audience_size": "20000",
              "publication_url": "https://outlet.example/world", "notes": "", "outlet_name": "The Outlet",
              "contact_name": "Ana Editor", "email": "ana@outlet.example", "action": "request"}
    fields.update(changes)
    return fields


def _emails(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.exec(select(OutboxMessage).where(OutboxMessage.topic == "email.send")).all())


def _requests(session) -> list[LicenceRequest]:
    session.expire_all()
    return list(session.exec(select(LicenceRequest)).all())


def test_page_shows_the_article_what_a_copy_leaves_out_and_a_quote(web, session) -> None:
    article = make_article(session, agency_photo=True, headline="A story <with> markup")
    session.commit()
    page = web.get(f"/republish/{article.slug}")
    assert page.status_code == 200
    assert "A story &lt;with&gt; markup" in page.text  # escaped
    assert "Reuters" in page.text and "not part of a licensed copy" in page.text
    assert "Website" in page.text and "United Kingdom" in page.text
    assert re.search(r"\d+\.\d\d GBP", page.text)  # the quote, in major units
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["referrer-policy"]
    assert "<script>" not in page.text and "style=" not in page.text
    assert web.get(f"/republish/{article.id}").status_code == 200  # by id as well as by slug


def test_page_names_the_byline_date_and_section_as_a_reader_reads_them(web, session) -> None:
    article = make_article(session, section="middle-east")
    unsigned = catalogue.upsert_article(session, ArticleCreate(
        headline="Written by two", standfirst="Two authors, no byline", body_html="<p>Text.</p>", byline=None,
        authors=["Ana Writer", "Bo Reporter"], canonical_url="https://www.middleeasteye.net/news/written-by-two",
        section="news", published_at=datetime(2020, 1, 7, 9, tzinfo=UTC)), actor=TEST_ACTOR)[0]
    session.commit()
    page = web.get(f"/republish/{article.slug}").text
    assert '<p class="byline">By MEE staff</p>' in page
    assert '<span class="section">Middle east</span>' in page and "middle-east</span>" not in page
    assert f"{article.published_at:%d %b %Y}</time>" in page and article.standfirst in page
    other = web.get(f"/republish/{unsigned.slug}").text
    assert '<p class="byline">By Ana Writer, Bo Reporter</p>' in other  # no byline: the authors, named
    assert '<span class="section">News</span>' in other and '<time datetime="2020-01-07">07 Jan 2020</time>' in other


def test_withdrawn_and_unknown_articles_get_an_explanation_not_a_form(web, session) -> None:
    article = make_article(session)
    catalogue.withdraw_article(session, article.id, reason="Legal", actor=TEST_ACTOR)
    other = make_article(session, licensable=False)
    session.commit()
    gone = web.get(f"/republish/{article.slug}")
    assert gone.status_code == 410 and "withdrawn" in gone.text and "<form" not in gone.text
    assert web.get(f"/republish/{other.slug}").status_code == 410
    missing = web.get("/republish/no-such-article")
    assert missing.status_code == 404 and "cannot find that article" in missing.text


def test_the_quote_changes_with_the_options_live_and_without_javascript(web, session) -> None:
    article = make_article(session)
    session.commit()
    small = web.post(f"/republish/{article.slug}/quote", data=_fields(audience_size="1000")).json()
    large = web.post(f"/republish/{article.slug}/quote", data=_fields(audience_size="900000")).json()
    assert small["total"] != large["total"] and small["lines"][0]["amount"].endswith("GBP")
    assert web.post(f"/republish/{article.slug}/quote", data=_fields(audience_size="lots")).status_code == 422
    quoted = web.post(f"/republish/{article.slug}", data={**_form(web, article.slug), **_fields(action="quote")})
    assert quoted.status_code == 200 and large["total"] not in quoted.text and "Price" in quoted.text
    assert _requests(session) == []


def test_the_period_reads_in_words_and_may_be_an_end_date(web, session) -> None:
    from datetime import UTC, datetime, timedelta

    article = make_article(session)
    session.commit()
    page = web.get(f"/republish/{article.slug}").text
    assert ">1 month<" in page and ">12 months<" in page and "month(s)" not in page
    assert '<option value="until"' in page and 'type="date" id="ends_at"' in page
    labels = [line["label"] for line in web.post(f"/republish/{article.slug}/quote",
                                                   data=_fields(period_months="1")).json()["lines"]]
    assert any(label.startswith("Period: 1 month,") for label in labels), labels
    last_day = (datetime.now(UTC) + timedelta(days=95)).date()
    until = _fields(period_months="until", ends_at=last_day.isoformat())
    labels = [line["label"] for line in web.post(f"/republish/{article.slug}/quote", data=until).json()["lines"]]
    assert any(label.startswith("Period: 4 months,") for label in labels), labels
    done = web.post(f"/republish/{article.slug}", data={**_form(web, article.slug), **until})
    assert done.status_code == 200, done.text
    [request] = _requests(session)
    assert request.ends_at == datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


def test_submitting_creates_a_pending_partner_a_request_and_a_sign_in_email_once(web, session) -> None:
    article = make_article(session)
    session.commit()
    form = _form(web, article.slug)
    first = web.post(f"/republish/{article.slug}", data={**form, **_fields()})
    again = web.post(f"/republish/{article.slug}", data={**form, **_fields()})
    assert first.status_code == again.status_code == 200 and "we have your request" in first.text
    [request] = _requests(session)
    partner = session.get(Partner, request.partner_id)
    assert partner.name == "The Outlet" and partner.status == "pending" and partner.verified_at is None
    links = [m for m in _emails(session) if m.payload["to"] == ["ana@outlet.example"]]
    assert len(links) == 1 and "/portal/sign-in/" in links[0].payload["body"]


def test_a_verified_partner_is_recognised_by_its_contact_email(web, session) -> None:
    article = make_article(session)
    partner = make_partner(session, verified=True)
    session.commit()
    email = partner_contact = catalogue  # noqa: F841 - readability below
    email = f"{partner.billing_email.replace('billing', 'editor')}"
    web.post(f"/republish/{article.slug}", data={**_form(web, article.slug), **_fields(email=email.upper())})
    [request] = _requests(session)
    assert request.partner_id == partner.id
    assert len(session.exec(select(Partner)).all()) == 1


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"email": "not-an-address"}, "email", "e-mail address"),
    ({"audience_size": "many"}, "audience_size", "whole number"),
    ({"outlet_name": ""}, "outlet_name", "name of your publication"),
    ({"territories": []}, "territories", "at least one country"),
    ({"audience_size": "999999999999"}, "audience_size", "audience"),
    ({"period_months": "until", "ends_at": ""}, "ends_at", "last day"),
])
def test_field_errors_appear_next_to_the_field_and_nothing_is_written(web, session, changes, field, words) -> None:
    article = make_article(session)
    session.commit()
    page = web.post(f"/republish/{article.slug}", data={**_form(web, article.slug), **_fields(**changes)})
    assert page.status_code == 422
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]+)</p>', page.text)
    assert error and words in error[1], page.text
    assert f'aria-describedby="{field}-help {field}-error"' in page.text
    assert _requests(session) == [] and session.exec(select(Partner)).all() == []


def test_a_foreign_origin_or_a_forged_form_is_refused(web, session) -> None:
    article = make_article(session)
    session.commit()
    form = _form(web, article.slug)
    foreign = web.post(f"/republish/{article.slug}", data={**form, **_fields()}, headers={"Origin": "https://evil.example"})
    forged = web.post(f"/republish/{article.slug}", data={**form, "form_check": "0" * 64, **_fields()})
    assert foreign.status_code == forged.status_code == 403
    assert web.post(f"/republish/{article.slug}/quote", data=_fields(),
                    headers={"Origin": "https://evil.example"}).status_code == 403
    assert _requests(session) == []


def test_page_lists_the_pictures_a_licence_includes_apart_from_those_it_leaves_out(web, session) -> None:
    article = make_article(session, agency_photo=True)
    session.commit()
    page = web.get(f"/republish/{article.slug}").text
    includes, leaves_out = page.split("What it leaves out")
    assert "Picture: Staff picture (MEE/Staff)" in includes and "Wire picture" not in includes
    assert "Wire picture — credited to Reuters" in leaves_out.split("</ul>")[0]
