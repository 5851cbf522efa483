"""GET /v1/usage: a partner's own deliveries in keyset pages, and invoice lines that list the
deliveries they bill, so the pages add up to each line exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.core.db import utcnow
from api.core.pagination import encode_cursor
from api.delivery import usage_log
from api.invoicing import partner_usage, usage_retention
from api.outbox import service as outbox
from tests.builders import (
    make_api_key,
    make_article,
    make_licence,
    make_partner,
    staff_headers,
)
from tests.delivery.conftest import bearer
from tests.query_plans import list_problems, sqlite_only


def _all_pages(client, headers, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        page = client.get("/v1/usage", headers=headers, params={**params, "limit": 1, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def _usage_partner(client, session):
    partner = make_partner(session, currency="GBP")
    api_key = make_api_key(session, partner)
    first_articles = [make_article(session), make_article(session)]
    second_article = make_article(session)
    first = make_licence(session, partner=partner, articles=first_articles, scope="bundle", amount=500,
                         billing_mode="usage")
    second = make_licence(session, partner=partner, articles=[second_article], amount=700, billing_mode="usage")
    session.commit()
    keys = {"X-API-Key": api_key}
    for licence, fetches in ((first, [first_articles[0], first_articles[0], first_articles[1]]),
                             (second, [second_article])):
        assert licence.state == "active"
        token = client.post(f"/v1/licences/{licence.id}/tokens", headers=keys).json()["token"]
        for article in fetches:
            assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 200
    return partner, keys, first, second, first_articles


def test_usage_pages_sum_exactly_to_the_invoice_lines(client, session):
    partner, keys, first, second, _articles = _usage_partner(client, session)
    # Another partner's delivery in the same span is on nobody else's page.
    stranger = make_partner(session, currency="GBP")
    stranger_keys = {"X-API-Key": make_api_key(session, stranger)}
    elsewhere = make_licence(session, partner=stranger, articles=[make_article(session)], amount=500, billing_mode="usage")
    session.commit()
    token = client.post(f"/v1/licences/{elsewhere.id}/tokens", headers=stranger_keys).json()["token"]
    assert client.get(f"/v1/content/articles/{elsewhere.article_ids[0]}", headers=bearer(token)).status_code == 200

    staff = staff_headers(client, session, roles=["finance"])
    invoice = client.post(f"/v1/staff/partners/{partner.id}/invoice-now", headers=staff)
    assert invoice.status_code == 201, invoice.text

    detail = client.get(f"/v1/invoices/{invoice.json()['id']}", headers=keys)
    assert detail.status_code == 200
    lines = [line for line in detail.json()["lines"] if line["usage_url"]]
    assert {line["licence_id"] for line in lines} == {first.id, second.id}
    checked = 0
    for line in lines:
        assert line["usage_url"] == f"/v1/usage?invoice_line={line['id']}"
        deliveries = _all_pages(client, keys, invoice_line=line["id"])
        assert len(deliveries) == line["quantity"]
        assert len(deliveries) * line["unit_amount"] == line["amount"]
        assert {d["licence_id"] for d in deliveries} == {line["licence_id"]}
        assert {d["kind"] for d in deliveries} == {"republication"}
        assert len({d["article_id"] for d in deliveries}) == len(deliveries)  # each names its article once
        checked += line["amount"]
    assert checked == detail.json()["total"] == 2 * 500 + 1 * 700


def test_an_invoice_lines_deliveries_still_add_up_after_retention_prunes_the_raw_log(engine, client, session):
    """The line was counted from the republications; the listing reads them too, so it keeps its
    promise (as many deliveries as the line's quantity) once retention has removed the raw events."""
    partner = make_partner(session, currency="GBP")
    keys = {"X-API-Key": make_api_key(session, partner)}
    articles = [make_article(session) for _ in range(3)]
    licence = make_licence(session, partner=partner, articles=articles, scope="bundle", amount=500, billing_mode="usage")
    long_ago = utcnow() - timedelta(days=500)
    for n, article in enumerate(articles):
        usage_log.add_event(session, licence_id=licence.id, partner_id=partner.id, article_id=article.id,
                            at=long_ago + timedelta(minutes=n))
    usage_log.add_event(session, licence_id=licence.id, partner_id=partner.id, article_id=articles[0].id)  # a refetch, kept
    session.commit()
    staff = staff_headers(client, session, roles=["finance"])
    invoice = client.post(f"/v1/staff/partners/{partner.id}/invoice-now", headers=staff)
    assert invoice.status_code == 201, invoice.text
    outbox.drain(engine)  # issued: a draft would hold its span's raw events back from retention
    detail = client.get(f"/v1/invoices/{invoice.json()['id']}", headers=keys).json()
    assert detail["status"] == "open"
    [line] = [line for line in detail["lines"] if line["usage_url"]]
    assert line["quantity"] == 3

    assert usage_retention.prune_usage_events(engine, retention_days=400) == 3
    deliveries = _all_pages(client, keys, invoice_line=line["id"])
    assert len(deliveries) == line["quantity"]
    assert sorted(d["article_id"] for d in deliveries) == sorted(a.id for a in articles)
    assert {(d["kind"], d["format"]) for d in deliveries} == {("republication", None)}
    assert len(_all_pages(client, keys, invoice_line=line["id"], article=articles[1].id)) == 1
    assert _all_pages(client, keys, invoice_line=line["id"], kind="refetch") == []


def test_usage_filters_by_licence_article_month_and_kind(client, session):
    _partner, keys, first, second, articles = _usage_partner(client, session)
    everything = _all_pages(client, keys)
    assert len(everything) == 4 and all(item["headline"] for item in everything)
    assert [item["at"] for item in everything] == sorted((item["at"] for item in everything), reverse=True)
    refetches = _all_pages(client, keys, kind="refetch")
    assert [(r["licence_id"], r["article_id"]) for r in refetches] == [(first.id, articles[0].id)]
    assert len(_all_pages(client, keys, kind="republication")) == 3
    assert {i["licence_id"] for i in _all_pages(client, keys, licence=second.id)} == {second.id}
    assert len(_all_pages(client, keys, article=articles[0].id)) == 2
    this_month = datetime.now(UTC).strftime("%Y-%m")
    assert len(_all_pages(client, keys, month=this_month)) == 4
    assert _all_pages(client, keys, month="2001-01") == []
    for month in ("2026-13", "0000-01", "9999-12"):
        bad = client.get("/v1/usage", headers=keys, params={"month": month})
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


def test_another_partners_invoice_line_is_not_found(client, session):
    partner, _keys, _first, _second, _articles = _usage_partner(client, session)
    staff = staff_headers(client, session, roles=["finance"])
    invoice = client.post(f"/v1/staff/partners/{partner.id}/invoice-now", headers=staff).json()
    stranger = make_partner(session)
    stranger_keys = {"X-API-Key": make_api_key(session, stranger)}
    session.commit()
    answer = client.get("/v1/usage", headers=stranger_keys, params={"invoice_line": invoice["lines"][0]["id"]})
    assert answer.status_code == 404 and answer.json()["type"] == "/problems/invoice-line-not-found"
    assert client.get("/v1/usage", headers=stranger_keys).json()["items"] == []


@sqlite_only
def test_the_usage_listing_reads_the_partner_index_in_order(session):
    after = encode_cursor([utcnow(), "use_x"])
    for kwargs in ({}, {"cursor": after}, {"month": "2026-11"}, {"kind": "refetch", "cursor": after}):
        assert list_problems(session, partner_usage.list_usage, {"partner_id": "ptn_x", **kwargs}, search=True) == []
