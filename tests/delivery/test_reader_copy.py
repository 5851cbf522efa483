"""What a copy says to its readers: the HTML copy names the author, the publisher, the licence and
the canonical link; notes meant for the partner (why a picture was removed) stay in the metadata."""

from __future__ import annotations

from xml.etree import ElementTree

from tests.delivery.conftest import bearer, mint

PARTNER_NOTE = "Credited to Reuters: not the publisher's to relicense."


def test_the_html_copy_credits_everyone_and_keeps_partner_notes_out(client, licensed):
    article = licensed.articles[0]  # carries a Reuters picture
    token = mint(client, licensed)["token"]
    html = client.get(f"/v1/content/articles/{article.id}", headers=bearer(token), params={"format": "html"}).text
    assert "MEE staff" in html  # the author
    assert 'rel="canonical">Middle East Eye</a>' in html  # the publisher, in the visible attribution
    assert '"publisher": {"@type": "Organization", "name": "Middle East Eye"}' in html  # and in the JSON-LD
    assert f'rel="license">{licensed.licence.id}</a>' in html and f"/v1/licences/{licensed.licence.id}" in html
    assert f'<link rel="canonical" href="{article.canonical_url}">' in html
    assert PARTNER_NOTE not in html and "Reuters" not in html and "syndicate-removed" not in html

    as_json = client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).json()
    assert [r["reason"] for r in as_json["removed_assets"]] == [PARTNER_NOTE]  # the partner still learns why
    ninjs = client.get(f"/v1/content/articles/{article.id}", headers=bearer(token), params={"format": "ninjs"}).json()
    assert PARTNER_NOTE in ninjs["edNote"]
    for body in ninjs["bodies"]:
        if body["contentType"] == "text/html":
            assert PARTNER_NOTE not in body["value"]


def test_feed_entries_keep_partner_notes_out_of_their_html(client, licensed):
    token = mint(client, licensed)["token"]
    atom = client.get("/v1/content/feed", headers=bearer(token), params={"format": "atom"})
    contents = [e.text for e in ElementTree.fromstring(atom.content).iter("{http://www.w3.org/2005/Atom}content")]
    assert contents and all(PARTNER_NOTE not in c and "Reuters" not in c for c in contents)
