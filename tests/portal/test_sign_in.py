"""Portal sign-in: a one-time e-mailed link or an API key, a server-side session in a Secure,
HttpOnly, SameSite cookie, sign-out that ends it, and foreign-origin posts refused."""

from __future__ import annotations

import re

from sqlmodel import select

from api.outbox.models import OutboxMessage
from tests.builders import make_api_key, make_article, make_partner
from tests.portal.test_republish import _fields, _form, web  # noqa: F401 - the https client fixture


def _link(session, address: str) -> str:
    session.expire_all()
    bodies = [m.payload["body"] for m in session.exec(select(OutboxMessage).where(OutboxMessage.topic == "email.send"))
              if m.payload["to"] == [address]]
    return re.search(r"https://syndicate\.test(/portal/sign-in/\S+)", bodies[-1])[1]


def test_the_emailed_link_signs_in_once_and_shows_the_request(web, session) -> None:
    article = make_article(session)
    session.commit()
    web.post(f"/republish/{article.slug}", data={**_form(web, article.slug), **_fields()})
    path = _link(session, "ana@outlet.example")
    assert web.get("/portal", follow_redirects=False).headers["location"] == "/portal/sign-in"
    shown = web.get(path)
    assert shown.status_code == 200 and "<button" in shown.text  # a GET does not use the link up
    signed_in = web.post(path, follow_redirects=False)
    assert signed_in.status_code == 303
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith("__Host-syndicate_portal=") and "Secure" in cookie and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and "Path=/" in cookie
    portal = web.get("/portal")
    assert portal.status_code == 200 and "Being reviewed" in portal.text and "in_review" not in portal.text
    assert re.search(r"\d+\.\d\d GBP", portal.text)
    web.cookies.clear()
    again = web.post(path, follow_redirects=False)
    assert again.status_code == 401 and "used or has expired" in again.text


def test_an_api_key_signs_in_and_sign_out_ends_the_session(web, session) -> None:
    partner = make_partner(session)
    key = make_api_key(session, partner)
    session.commit()
    assert web.post("/portal/sign-in", data={"api_key": "sk_wrong"}).status_code == 401
    web.post("/portal/sign-in", data={"api_key": key})
    page = web.get("/portal")
    assert page.status_code == 200 and partner.name in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    assert web.post("/portal/sign-out", data={"csrf_token": csrf}, headers={"Origin": "https://evil.example"},
                    follow_redirects=False).status_code == 403
    assert web.post("/portal/sign-out", data={"csrf_token": "nope"}, follow_redirects=False).status_code == 403
    assert web.post("/portal/sign-out", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert web.get("/portal", follow_redirects=False).status_code == 303


def test_asking_for_a_link_says_the_same_for_known_and_unknown_addresses(web, session) -> None:
    partner = make_partner(session)
    session.commit()
    contact = partner.billing_email.replace("billing", "editor")
    known = web.post("/portal/sign-in", data={"email": contact})
    unknown = web.post("/portal/sign-in", data={"email": "nobody@nowhere.example"})
    assert known.text == unknown.text and "sign-in link is on its way" in known.text
    assert _link(session, contact).startswith("/portal/sign-in/")
