"""GET /v1/licence-requests/form/schema: a valid 2020-12 schema whose rules match the API's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from api.core.db import utcnow
from tests.builders import make_article
from tests.licensing.helpers import partner_with_key, request_body


@pytest.fixture
def schema(client, session) -> dict[str, Any]:
    make_article(session, section="opinion")
    session.commit()
    response = client.get("/v1/licence-requests/form/schema")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/schema+json")
    return response.json()


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_schema_is_valid_2020_12(schema) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    properties = schema["properties"]
    assert {c["const"]: c["title"] for c in properties["use"]["oneOf"]}["broadcast"] == "Broadcast (TV, radio, podcast)"
    assert properties["audience_size"]["type"] == "integer" and properties["period_months"]["type"] == "integer"
    assert all(isinstance(m, int) for m in properties["period_months"]["examples"])
    assert [b["title"] for b in properties["audience_size"]["oneOf"]][0] and properties["audience_size"]["maximum"] > 1
    assert [c["const"] for c in properties["section"]["oneOf"]] == ["opinion"]
    assert {"scope", "use", "territories", "audience_size"} <= set(schema["required"])
    assert all(p.get("title") and p.get("description") for p in properties.values())


def _fill(schema: dict[str, Any], **chosen: Any) -> dict[str, Any]:
    """What a generic form library does: every required field from its default, its first choice or
    its minimum; the conditional rules then say what else the chosen scope needs."""
    body: dict[str, Any] = {}
    for name in schema["required"]:
        prop = schema["properties"][name]
        if "default" in prop:
            body[name] = prop["default"]
        elif prop["type"] == "array":
            body[name] = [prop["items"]["oneOf"][0]["const"]]
        elif "oneOf" in prop and "const" in prop["oneOf"][0]:
            body[name] = prop["oneOf"][0]["const"]
        else:
            body[name] = prop["minimum"]
    body.update(chosen)
    return body


def test_a_request_rendered_from_the_schema_is_accepted(client, session, schema) -> None:
    article = make_article(session)
    _partner, headers = partner_with_key(session)
    session.commit()
    body = _fill(schema, scope="article", period_months=schema["properties"]["period_months"]["examples"][0])
    validator = _validator(schema)
    missing = [e.message for e in validator.iter_errors(body)]
    assert missing, "an article scope without article_ids must fail the schema's conditional rule"
    body["article_ids"] = [article.id]
    assert not [e.message for e in validator.iter_errors(body)]
    response = client.post("/v1/licence-requests", headers=headers, json=body)
    assert response.status_code == 201, response.text


END = "in two months"


@pytest.mark.parametrize(("changes", "valid"), [
    ({}, True),
    ({"period_months": None}, False),                                  # neither months nor an end
    ({"ends_at": END}, False),                      # both
    ({"period_months": None, "ends_at": END}, True),
    ({"section": "opinion"}, False),                                   # an article scope names no section
    ({"scope": "bundle"}, False),                                      # a bundle has at least two articles
    ({"scope": "section_feed", "article_ids": None}, False),           # a feed needs its section
    ({"scope": "section_feed", "article_ids": None, "section": "opinion"}, False),  # one_off is not a feed's billing
    ({"scope": "section_feed", "article_ids": None, "section": "opinion", "billing_mode": "usage"}, True),
    ({"billing_mode": "usage"}, False),
    ({"audience_size": 10**12}, False),
    ({"territories": ["XX"]}, False),
])
def test_conditional_rules_agree_with_the_api(client, session, schema, changes, valid) -> None:
    article = make_article(session)
    _partner, headers = partner_with_key(session)
    session.commit()
    body = request_body(article_ids=[article.id], billing_mode="one_off")
    for name, value in changes.items():
        value = (utcnow() + timedelta(days=60)).isoformat() if value == END else value
        body.pop(name) if value is None else body.__setitem__(name, value)
    assert _validator(schema).is_valid(body) is valid
    response = client.post("/v1/quotes", headers=headers, json=body)
    assert (response.status_code == 200) is valid, response.text
