from __future__ import annotations


def test_unknown_route_is_a_problem(client) -> None:
    response = client.get("/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/not-found"


def test_validation_error_is_a_problem_naming_the_field(client) -> None:
    response = client.post("/v1/staff/login", json={"email": "not-an-email"})
    assert response.status_code == 422
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert body["type"] == "/problems/validation"
    fields = {e["field"] for e in body["errors"]}
    assert {"body.email", "body.password"} <= fields
    assert "body.email" in body["detail"]


def test_problem_types_are_documented(client) -> None:
    response = client.get("/problems/bad-cursor")
    assert response.status_code == 200
    assert response.json()["status"] == 422


def test_health_and_readiness(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.headers["x-request-id"]


def test_a_body_that_is_not_json_is_named_as_such(client) -> None:
    response = client.post("/v1/staff/login", content=b'{"email": ', headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["detail"].startswith("The request body is not valid JSON at character 10")
    assert problem["errors"] == [{"field": "body", "message": problem["detail"], "type": "json_invalid"}]


def test_a_body_that_is_not_utf8_is_named_as_such(client) -> None:
    # JSON is UTF-8 (RFC 8259 §8.1): a body that does not decode is the client's malformed JSON, a
    # 422 like any other, not FastAPI's bare 400 "There was an error parsing the body".
    response = client.post("/v1/staff/login", content=b'{"email": "\xff"}', headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["detail"] == "The request body is not UTF-8 (byte 0xff at position 11)."
    assert problem["errors"] == [{"field": "body", "message": problem["detail"], "type": "json_invalid"}]
