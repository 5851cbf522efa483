"""Where copies are displayed, for staff (every partner's, filtered, keyset pages) and for a partner
(its own licences only)."""

from __future__ import annotations

from tests.builders import make_api_key, make_licence, make_partner, staff_headers
from tests.delivery.conftest import bearer, mint
from tests.tracking.conftest import flush_beacons


def _beacon(client, licence_id: str, key_headers: dict, article_id: str) -> str:
    token = client.post(f"/v1/licences/{licence_id}/tokens", headers=key_headers).json()["token"]
    body = client.get(f"/v1/content/articles/{article_id}", headers=bearer(token)).json()
    return body["attribution"]["beacon_url"].removeprefix("https://syndicate.test")


def _show(client, beacon: str, page: str, times: int = 1) -> None:
    for _ in range(times):
        assert client.get(beacon, headers={"Referer": page, "User-Agent": "Mozilla/5.0 Firefox/133.0"}).status_code == 200
    flush_beacons()  # counted now rather than by the flusher within ~100 ms


def test_a_partner_sees_its_own_sightings_and_never_another_partners(client, session, licensed):
    other = make_partner(session)
    other_key = {"X-API-Key": make_api_key(session, other)}
    other_licence = make_licence(session, partner=other, articles=[licensed.articles[0]], scope="article")
    session.commit()
    mint(client, licensed)
    _show(client, _beacon(client, licensed.licence.id, licensed.key_headers, licensed.articles[0].id),
          "https://outlet.example/a?utm_medium=social", times=3)
    _show(client, _beacon(client, licensed.licence.id, licensed.key_headers, licensed.articles[1].id),
          "https://outlet.example/b")
    _show(client, _beacon(client, other_licence.id, other_key, licensed.articles[0].id), "https://rival.example/a")

    mine = client.get("/v1/sightings", headers=licensed.key_headers).json()
    assert sorted(s["page_url"] for s in mine["items"]) == ["https://outlet.example/a", "https://outlet.example/b"]
    [a] = [s for s in mine["items"] if s["page_url"].endswith("/a")]
    assert (a["hits"], a["views"], a["partner_id"], len(a["days"]), a["days"][0]["hits"]) == (
        3, 1, licensed.partner.id, 1, 3)
    by_article = client.get("/v1/sightings", headers=licensed.key_headers,
                            params={"article_id": licensed.articles[1].id}).json()["items"]
    assert [s["page_url"] for s in by_article] == ["https://outlet.example/b"]
    theirs = client.get("/v1/sightings", headers=other_key).json()["items"]
    assert [s["page_url"] for s in theirs] == ["https://rival.example/a"]
    refused = client.get("/v1/sightings", headers=licensed.key_headers, params={"licence_id": other_licence.id})
    assert refused.status_code == 404 and refused.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/sightings").status_code == 401


def test_staff_list_every_partners_sightings_filtered_and_in_keyset_pages(client, session, licensed):
    beacon = _beacon(client, licensed.licence.id, licensed.key_headers, licensed.articles[0].id)
    for n in range(5):
        _show(client, beacon, f"https://outlet.example/page-{n}")
    headers = staff_headers(client, session, roles=["finance"])
    first = client.get("/v1/staff/sightings", headers=headers, params={"limit": 2}).json()
    second = client.get("/v1/staff/sightings", headers=headers, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    third = client.get("/v1/staff/sightings", headers=headers, params={"limit": 2, "cursor": second["next_cursor"]}).json()
    pages = [s["page_url"] for page in (first, second, third) for s in page["items"]]
    assert pages == [f"https://outlet.example/page-{n}" for n in (4, 3, 2, 1, 0)] and third["next_cursor"] is None
    by_licence = client.get("/v1/staff/sightings", headers=headers, params={"licence_id": licensed.licence.id,
                                                                             "partner_id": licensed.partner.id}).json()
    assert len(by_licence["items"]) == 5
    assert client.get("/v1/staff/sightings", headers=headers, params={"article_id": licensed.articles[1].id}).json()["items"] == []
    bad = client.get("/v1/staff/sightings", headers=headers, params={"cursor": "garbage"})
    assert bad.status_code == 422 and bad.json()["type"].endswith("/bad-cursor")
    editor = staff_headers(client, session, roles=["editor"])
    assert client.get("/v1/staff/sightings", headers=editor).status_code == 403
