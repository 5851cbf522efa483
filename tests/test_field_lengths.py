"""Every free-text value the API reads has a documented maximum length, enforced by the schema
(SQLite does not enforce VARCHAR lengths, so the schema is the guard on both databases)."""

from __future__ import annotations

import json

from tests.builders import make_article
from tests.contract import render
from tests.licensing.helpers import partner_with_key, request_body
from tests.partners.test_routes import REGISTRATION

DOCUMENT = json.loads(render())
SCHEMAS = DOCUMENT["components"]["schemas"]


def _request_schemas() -> set[str]:
    found: set[str] = set()

    def follow(node) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref and ref.split("/")[-1] not in found:
                found.add(ref.split("/")[-1])
                follow(SCHEMAS[ref.split("/")[-1]])
            for value in node.values():
                follow(value)
        elif isinstance(node, list):
            for value in node:
                follow(value)

    for operations in DOCUMENT["paths"].values():
        for operation in operations.values():
            follow(operation.get("requestBody"))
    return found


def _unbounded(node: dict, where: str) -> list[str]:
    if node.get("type") == "string" and not ({"maxLength", "enum", "const"} & node.keys()) \
            and node.get("format") not in ("date-time", "date") and not str(node.get("pattern", "")).endswith("$"):
        return [where]
    found = []
    for name, sub in node.get("properties", {}).items():
        found += _unbounded(sub, f"{where}.{name}")
    for sub in node.get("anyOf", []) + node.get("oneOf", []):
        found += _unbounded(sub, where)
    if isinstance(node.get("items"), dict):
        found += _unbounded(node["items"], f"{where}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += _unbounded(node["additionalProperties"], f"{where}{{}}")
    return found


def test_every_string_a_request_body_carries_has_a_maximum_length() -> None:
    unbounded = [where for name in sorted(_request_schemas()) for where in _unbounded(SCHEMAS[name], name)]
    assert unbounded == []


def test_an_over_long_publication_url_is_refused_not_stored(client, session) -> None:
    article = make_article(session)
    _partner, headers = partner_with_key(session)
    session.commit()
    body = {**request_body(article_ids=[article.id]), "publication_url": "https://outlet.example/" + "a" * 1000}
    response = client.post("/v1/licence-requests", headers=headers, json=body)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.publication_url"


def test_a_url_that_grows_past_its_limit_when_normalised_is_refused(client) -> None:
    website = "https://outlet.example/" + "\u00e9" * 200  # 223 characters as sent, 1,223 percent-encoded
    response = client.post("/v1/partners/register", json={**REGISTRATION, "website": website})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.website"


def test_over_long_list_items_are_refused(client, session) -> None:
    article = make_article(session)
    _partner, headers = partner_with_key(session)
    session.commit()
    body = {**request_body(article_ids=[article.id]), "territories": ["G" * 100]}
    response = client.post("/v1/quotes", headers=headers, json=body)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.territories.0"
