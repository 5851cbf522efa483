"""Catalogue HTTP API: the public listing never shows bodies or unavailable articles; staff edit and import."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from api.audit.service import Actor
from api.catalogue import service
from api.catalogue.models import Article, Asset
from api.catalogue.schemas import ArticleUpdate
from api.core.db import utcnow
from tests.builders import TEST_ACTOR, make_article, staff_headers
from tests.catalogue.pages import CANONICAL, CAPTION, HEADLINE, SAMPLE_TEXT, mee_html_page

BODY_FIELDS = {"body_html", "body_text", "assets", "external_id"}


def _article_json(n: int = 1, **overrides) -> dict:
    return {"external_id": f"cms-{n}", "headline": f"Headline {n}", "body_html": f"<p>Body of {n}.</p>",
            "canonical_url": f"https://www.middleeasteye.net/news/{n}", "section": "news", "tags": ["Syria"],
            **overrides}


def _count(session: Session) -> int:
    session.expire_all()
    return len(session.exec(select(Article)).all())


# --- public ----------------------------------------------------------------------------------


def test_public_listing_shows_only_available_licensable_articles_without_body(client, session) -> None:
    shown = make_article(session, headline="Shown")
    hidden = make_article(session, licensable=False)
    withdrawn = make_article(session)
    service.withdraw_article(session, withdrawn.id, reason="Legal", actor=TEST_ACTOR)
    embargoed = make_article(session)
    service.update_article(session, embargoed.id, ArticleUpdate(embargo_until=utcnow() + timedelta(days=1)), actor=TEST_ACTOR)
    session.commit()
    response = client.get("/v1/articles")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["id"] for i in items] == [shown.id]
    assert not BODY_FIELDS & set(items[0]) and items[0]["word_count"] > 0 and items[0]["licensable"] is True
    for article in (hidden, withdrawn, embargoed):
        detail = client.get(f"/v1/articles/{article.id}")
        assert detail.status_code == 404 and detail.json()["type"] == "/problems/article-not-found"
    detail = client.get(f"/v1/articles/{shown.id}")
    assert detail.status_code == 200 and detail.json()["headline"] == "Shown" and not BODY_FIELDS & set(detail.json())


def test_public_listing_pages_and_filters(client, session) -> None:
    made = [make_article(session, section="news", tags=["Syria"]) for _ in range(3)]
    other = make_article(session, section="opinion", tags=["Gulf"], language="ar")
    session.commit()
    first = client.get("/v1/articles", params={"limit": 2}).json()
    second = client.get("/v1/articles", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(first["items"]) == 2 and len(second["items"]) == 2 and second["next_cursor"] is None
    assert {i["id"] for i in first["items"] + second["items"]} == {a.id for a in [*made, other]}
    assert [i["id"] for i in client.get("/v1/articles", params={"section": "opinion"}).json()["items"]] == [other.id]
    assert len(client.get("/v1/articles", params={"tag": "syria"}).json()["items"]) == 3
    assert [i["id"] for i in client.get("/v1/articles", params={"language": "ar"}).json()["items"]] == [other.id]
    assert client.get("/v1/articles", params={"q": made[0].headline}).json()["items"][0]["id"] == made[0].id
    since = client.get("/v1/articles", params={"updated_since": other.updated_at.isoformat()}).json()
    assert since["items"] == []


def test_public_listing_bad_parameters(client) -> None:
    bad_cursor = client.get("/v1/articles", params={"cursor": "not-a-cursor"})
    assert bad_cursor.status_code == 422 and bad_cursor.json()["type"] == "/problems/bad-cursor"
    too_many = client.get("/v1/articles", params={"limit": 1000})
    assert too_many.status_code == 422 and too_many.json()["type"] == "/problems/validation"
    bad_date = client.get("/v1/articles", params={"published_from": "yesterday"})
    assert bad_date.status_code == 422 and bad_date.json()["errors"][0]["field"] == "query.published_from"


# --- staff: roles ----------------------------------------------------------------------------


@pytest.mark.parametrize(("roles", "expected"), [(None, 401), (["licensing"], 403), (["finance"], 403),
                                                 (["editor"], 201), (["admin"], 201)])
def test_staff_create_needs_editor_or_admin(client, session, roles, expected) -> None:
    headers = staff_headers(client, session, roles=roles) if roles else {}
    response = client.post("/v1/staff/articles", json=_article_json(), headers=headers)
    assert response.status_code == expected, response.text
    if expected == 403:
        assert response.json()["type"] == "/problems/role-required"
    assert _count(session) == (1 if expected == 201 else 0)


def test_staff_reads_are_role_checked_too(client, session) -> None:
    article = make_article(session)
    session.commit()
    licensing = staff_headers(client, session, roles=["licensing"])
    for method, path, body in [("GET", f"/v1/staff/articles/{article.id}", None),
                               ("PATCH", f"/v1/staff/articles/{article.id}", {"headline": "x"}),
                               ("POST", f"/v1/staff/articles/{article.id}/withdraw", {"reason": "x"}),
                               ("POST", "/v1/staff/articles/import", None)]:
        response = client.request(method, path, json=body, headers=licensing)
        assert response.status_code == 403, (method, path)


# --- staff: create, read, edit, withdraw -----------------------------------------------------


def test_staff_create_update_and_unchanged(client, session) -> None:
    editor = staff_headers(client, session, roles=["editor"])
    created = client.post("/v1/staff/articles", json=_article_json(assets=[{"caption": "Wire", "credit": "AFP"}]),
                          headers=editor)
    assert created.status_code == 201 and created.json()["created"] is True
    article = created.json()["article"]
    assert article["version"] == 1 and article["assets"][0]["relicensable"] is False
    same = client.post("/v1/staff/articles", json=_article_json(assets=[{"caption": "Wire", "credit": "AFP"}]),
                       headers=editor)
    assert same.status_code == 200 and same.json()["changed"] is False and same.json()["article"]["version"] == 1
    edited = client.post("/v1/staff/articles", json=_article_json(headline="Edited"), headers=editor)
    assert edited.status_code == 200 and edited.json()["changed"] is True and edited.json()["article"]["version"] == 2
    assert edited.json()["article"]["assets"] == [] and _count(session) == 1


def test_staff_get_patch_and_withdraw(client, session) -> None:
    article = make_article(session, agency_photo=True)
    session.commit()
    editor = staff_headers(client, session, roles=["editor"])
    full = client.get(f"/v1/staff/articles/{article.id}", headers=editor).json()
    assert full["body_html"].startswith("<p>First paragraph") and [a["relicensable"] for a in full["assets"]] == [True, False]
    patched = client.patch(f"/v1/staff/articles/{article.id}", json={"headline": "New headline"}, headers=editor)
    assert patched.status_code == 200 and patched.json()["version"] == 2 and patched.json()["headline"] == "New headline"
    withdrawn = client.post(f"/v1/staff/articles/{article.id}/withdraw", json={"reason": "Legal"}, headers=editor)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    after = client.patch(f"/v1/staff/articles/{article.id}", json={"headline": "Again"}, headers=editor)
    assert after.status_code == 410 and after.json()["type"] == "/problems/article-withdrawn"
    assert client.get("/v1/articles").json()["items"] == []


@pytest.mark.parametrize(("path", "method", "body", "status", "problem"), [
    ("/v1/staff/articles/art_missing", "GET", None, 404, "article-not-found"),
    ("/v1/staff/articles/art_missing", "PATCH", {"headline": "x"}, 404, "article-not-found"),
    ("/v1/staff/articles/{id}", "PATCH", {"headline": None}, 422, "validation"),
    ("/v1/staff/articles/{id}", "PATCH", {"headline": "   "}, 422, "validation"),
    ("/v1/staff/articles/{id}", "PATCH", {"status": "withdrawn"}, 422, "validation"),
    ("/v1/staff/articles/{id}", "PATCH", {"body_html": "<script>x</script>"}, 422, "empty-article-body"),
    ("/v1/staff/articles/{id}/withdraw", "POST", {}, 422, "validation"),
])
def test_staff_edit_bad_input(client, session, path, method, body, status, problem) -> None:
    article = make_article(session)
    session.commit()
    editor = staff_headers(client, session, roles=["editor"])
    response = client.request(method, path.format(id=article.id), json=body, headers=editor)
    assert response.status_code == status and response.json()["type"] == f"/problems/{problem}", response.text
    assert response.headers["content-type"] == "application/problem+json"
    session.expire_all()
    assert session.get(Article, article.id).version == 1


def test_staff_create_with_another_articles_url_is_a_conflict(client, session) -> None:
    editor = staff_headers(client, session, roles=["editor"])
    client.post("/v1/staff/articles", json=_article_json(1), headers=editor)
    clash = client.post("/v1/staff/articles", json=_article_json(2, canonical_url="https://www.middleeasteye.net/news/1"),
                        headers=editor)
    assert clash.status_code == 409 and clash.json()["type"] == "/problems/canonical-url-taken"
    assert _count(session) == 1


# --- staff: import ---------------------------------------------------------------------------


def test_import_sample_text_page(client, session) -> None:
    editor = staff_headers(client, session, roles=["editor"])
    response = client.post("/v1/staff/articles/import", params={"canonical_url": CANONICAL},
                           content=SAMPLE_TEXT.read_bytes(), headers={**editor, "Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["updated"], report["unchanged"]) == (1, 0, 0)
    article = report["results"][0]["article"]
    assert article["headline"] == HEADLINE and article["canonical_url"] == CANONICAL
    assert article["assets"] == [{**article["assets"][0], "caption": CAPTION, "credit": "Reuters", "relicensable": False}]
    again = client.post("/v1/staff/articles/import", params={"canonical_url": CANONICAL},
                        content=SAMPLE_TEXT.read_bytes(), headers={**editor, "Content-Type": "text/plain"}).json()
    assert (again["created"], again["unchanged"]) == (0, 1) and again["results"][0]["article"]["id"] == article["id"]
    [asset] = session.exec(select(Asset).where(Asset.article_id == article["id"])).all()
    assert asset.relicensable is False


def test_import_text_page_gets_its_url_from_the_publishers_url_pattern(settings, session) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    patterned = create_app(settings.model_copy(update={"canonical_url_template": "https://www.middleeasteye.net/news/{slug}"}),
                           run_worker=False)
    with TestClient(patterned) as client:
        editor = staff_headers(client, session, roles=["editor"])
        response = client.post("/v1/staff/articles/import", content=SAMPLE_TEXT.read_bytes(),
                               headers={**editor, "Content-Type": "text/plain"})
    patterned.state.engine.dispose()
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["article"]["canonical_url"] == \
        "https://www.middleeasteye.net/news/putin-makes-surprise-visit-to-syria-amid-us-iran-tensions"


def test_import_html_page_and_json_batch(client, session) -> None:
    editor = staff_headers(client, session, roles=["editor"])
    page = client.post("/v1/staff/articles/import", content=mee_html_page(),
                       headers={**editor, "Content-Type": "text/html; charset=utf-8"})
    assert page.status_code == 200 and page.json()["results"][0]["article"]["canonical_url"] == CANONICAL
    batch = client.post("/v1/staff/articles/import", content=json.dumps([_article_json(1), _article_json(2)]),
                        headers={**editor, "Content-Type": "application/json"})
    assert batch.status_code == 200 and batch.json()["created"] == 2
    # ninjs for the page imported above: same URL, so it is a new version of that article
    ninjs = {"uri": CANONICAL, "headlines": [{"value": "Putin in Damascus"}], "bodies": [{"value": "Updated body."}]}
    update = client.post("/v1/staff/articles/import", content=json.dumps(ninjs),
                         headers={**editor, "Content-Type": "application/json"})
    assert update.status_code == 200 and (update.json()["created"], update.json()["updated"]) == (0, 1)
    assert update.json()["results"][0]["article"]["version"] == 2
    # a ninjs item whose uri differs from the CMS id already holding that URL is refused, not merged
    clash = {**ninjs, "uri": "urn:other:1", "altIds": [{"role": "canonical", "value": "https://www.middleeasteye.net/news/1"}]}
    refused = client.post("/v1/staff/articles/import", content=json.dumps(clash),
                          headers={**editor, "Content-Type": "application/json"})
    assert refused.status_code == 409 and refused.json()["type"] == "/problems/canonical-url-taken"
    assert _count(session) == 3


@pytest.mark.parametrize(("content", "content_type", "params", "status", "problem"), [
    (b'[{"headline": "x",}]', "application/json", {}, 422, "malformed-json"),
    (b"   ", "text/plain", {"canonical_url": CANONICAL}, 422, "empty-document"),
    (b"", "text/html", {}, 422, "empty-document"),
    (json.dumps([_article_json(1), {**_article_json(2), "headline": ""}]).encode(), "application/json", {}, 422,
     "missing-headline"),
    (json.dumps([_article_json(1), _article_json(2, body_html="<script>x</script>")]).encode(), "application/json", {},
     422, "empty-article-body"),
    (SAMPLE_TEXT.read_bytes(), "text/plain", {}, 422, "canonical-url-required"),
    (SAMPLE_TEXT.read_bytes(), "text/plain", {"format": "docx", "canonical_url": CANONICAL}, 422, "unknown-import-format"),
    (SAMPLE_TEXT.read_bytes(), "application/pdf", {}, 415, "unsupported-import-media-type"),
    (json.dumps({**_article_json(), "colour": "red"}).encode(), "application/json", {}, 422, "invalid-article"),
])
def test_import_bad_input_writes_nothing(client, session, content, content_type, params, status, problem) -> None:
    editor = staff_headers(client, session, roles=["editor"])
    response = client.post("/v1/staff/articles/import", content=content, params=params,
                           headers={**editor, "Content-Type": content_type})
    assert response.status_code == status, response.text
    assert response.json()["type"] == f"/problems/{problem}" and response.json()["detail"]
    assert _count(session) == 0


def test_malformed_json_problem_gives_line_and_column(client, session) -> None:
    editor = staff_headers(client, session, roles=["editor"])
    response = client.post("/v1/staff/articles/import", content=b'{\n "headline": }',
                           headers={**editor, "Content-Type": "application/json"})
    body = response.json()
    assert (body["line"], body["column"]) == (2, 14) and "line 2, column 14" in body["detail"]


def test_import_actor_is_the_staff_user(client, session) -> None:
    editor = staff_headers(client, session, roles=["editor"])
    response = client.post("/v1/staff/articles", json=_article_json(), headers=editor)
    me = client.get("/v1/staff/me", headers=editor).json()
    from api.audit.models import AuditEntry

    [entry] = session.exec(select(AuditEntry).where(AuditEntry.object_id == response.json()["article"]["id"])).all()
    assert Actor(entry.actor_type, entry.actor_id) == Actor("staff", me["id"])


def test_import_refuses_oversized_documents_before_parsing(client, session, settings) -> None:
    editor = staff_headers(client, session, roles=["editor"])
    response = client.post("/v1/staff/articles/import", content=b"x" * (settings.max_import_body_bytes + 1),
                           headers={**editor, "Content-Type": "text/plain"})
    assert response.status_code == 413 and response.json()["type"] == "/problems/payload-too-large"
    assert _count(session) == 0


@pytest.mark.parametrize("params", [
    {"updated_since": "2020-01-01T00:00:00"}, {"published_from": "2020-01-01"}, {"published_to": "2999-01-01T00:00"},
    {"updated_since": "2020-01-01T02:00:00+02:00"},
], ids=["naive-updated-since", "date-only", "naive-published-to", "with-offset"])
def test_public_listing_takes_times_without_an_offset_as_utc(client, session, params) -> None:
    article = make_article(session)
    session.commit()
    response = client.get("/v1/articles", params=params)
    assert response.status_code == 200, response.text
    assert [i["id"] for i in response.json()["items"]] == [article.id]


def test_public_listing_cursor_with_a_naive_time_is_read_as_utc(client, session) -> None:
    from api.core.pagination import encode_cursor

    older, newer = make_article(session), make_article(session)
    session.commit()
    naive = older.updated_at.replace(tzinfo=None)
    response = client.get("/v1/articles", params={"cursor": encode_cursor([naive, older.id])})
    assert response.status_code == 200, response.text
    assert [i["id"] for i in response.json()["items"]] == [newer.id]


@pytest.mark.parametrize("values", [
    ["2020-01-01T00:00:00", {"not": "an id"}], [12, "art_1"], ["2020-01-01T00:00:00", "art\u0000x"],
    [None, "art_1"], ["9999-12-31T23:59:59-23:59", "art_1"],
], ids=["object-id", "number-time", "nul-in-id", "null-time", "out-of-range-time"])
def test_public_listing_malformed_cursor_is_a_bad_cursor_problem(client, values) -> None:
    import base64

    cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
    response = client.get("/v1/articles", params={"cursor": cursor})
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/bad-cursor"


def test_the_public_article_says_which_pictures_a_licence_includes_and_leaves_out(client, session):
    from tests.builders import make_article as build

    article = build(session, agency_photo=True)
    session.commit()
    shown = client.get(f"/v1/articles/{article.id}").json()
    assert shown["pictures_included"] == [{"caption": "Staff picture", "credit": "MEE/Staff"}]
    assert shown["pictures_left_out"] == [{"caption": "Wire picture", "credit": "Reuters"}]
