"""Errors are RFC 9457 problem+json from one table; 5xx bodies reveal nothing; request ids everywhere."""

from __future__ import annotations

from flask import Flask

from api import create_app
from api.security import SESSION_TOKEN
from tests.api.conftest import PASSWORD, Client, assert_problem, cheap_passwords


def test_unknown_route_is_a_404_problem(api: Client) -> None:
    body = assert_problem(api.get("/api/nothing-here"), 404, "not-found")
    assert body["instance"] == "/api/nothing-here"


def test_wrong_method_is_405_with_allow(api: Client) -> None:
    response = api.request("PUT", "/api/tasks", "alice")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_400(api: Client) -> None:
    response = api.post("/api/process-definitions/approval/instances", "alice", data="{not json",
                        content_type="application/json")
    assert_problem(response, 400, "malformed-request")


def test_json_that_python_reads_but_json_does_not_allow_is_400_and_starts_nothing(approval: Client) -> None:
    url = "/api/process-definitions/approval/instances"
    for body in (b'{"data": {"title": "New laptop", "amount": NaN}}', b'{"data": {"amount": -Infinity}}',
                 b'{"data": {"title": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"):
        assert_problem(approval.post(url, "alice", data=body, content_type="application/json"), 400)
    assert approval.get("/api/process-instances", "alice").json["total"] == 0
    started = approval.post(url, "alice", data=b'{"data": {"title": "New laptop", "amount": 1.5e3}}',
                            content_type="application/json")
    assert started.status_code == 201 and started.json["data"]["amount"] == 1500


def test_schema_violations_are_422_with_field_errors(api: Client) -> None:
    body = assert_problem(api.post("/api/process-definitions/approval/instances", "alice",
                                   json={"data": "not an object"}), 422, "validation-failed")
    assert set(body["errors"]) == {"data"} and body["errors"]["data"]
    body = assert_problem(api.get("/api/tasks?page=0&sort=sideways", "alice"), 422)
    assert set(body["errors"]) == {"page", "sort"}


def test_nul_characters_are_refused(api: Client) -> None:
    assert_problem(api.get("/api/tasks?q=a%00b", "alice"), 400)


def test_request_id_is_echoed_or_made(api: Client) -> None:
    response = api.get("/api/me", "alice", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    made = api.get("/api/me", "alice", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["X-Request-ID"] != "bad id with spaces" and len(made.headers["X-Request-ID"]) == 32


def test_internal_errors_reveal_nothing_and_are_logged_with_the_request_id(settings, engine, caplog) -> None:  # type: ignore[no-untyped-def]
    app: Flask = create_app(settings, engine, passwords=cheap_passwords())

    @app.route("/api/boom")
    def boom() -> str:
        raise RuntimeError("secret database password in a traceback")

    from api.security import public

    public(boom)
    response = app.test_client().get("/api/boom")
    body = assert_problem(response, 500, "internal-error")
    text = response.get_data(as_text=True)
    assert "secret" not in text and "RuntimeError" not in text and "Traceback" not in text
    records = [r for r in caplog.records if getattr(r, "request_id", None) == body["request_id"]]
    assert records and records[0].exc_info is not None


def test_request_too_large_is_413(settings, engine) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    app = create_app(replace(settings, max_upload_bytes=1000), engine, passwords=cheap_passwords())
    response = app.test_client().post("/api/auth/tokens", data=b"x" * 400_000, content_type="application/json")
    assert_problem(response, 413, "too-large")


def test_the_openapi_document_and_docs_page_need_credentials_like_every_call(api: Client) -> None:
    """API.md: anything but signing in needs credentials; the page sends a visitor to sign in first."""
    assert_problem(api.get("/api/openapi.json"), 401, "unauthenticated")
    refused = api.get("/api/docs")
    assert refused.status_code == 302 and refused.headers["Location"].endswith("/login?next=/api/docs")

    spec = api.get("/api/openapi.json", "alice")
    assert spec.status_code == 200
    document = spec.json
    for path in ["/api/auth/tokens", "/api/process-definitions", "/api/process-definitions/{key}/xml",
                 "/api/process-definitions/{key}/instances", "/api/process-instances/{instance_id}/cancel",
                 "/api/tasks/{task_id}/complete", "/api/audit/export", "/api/users/{username}", "/api/groups"]:
        assert path in document["paths"], path
    assert "bearerAuth" in document["components"]["securitySchemes"]
    default = document["components"]["responses"]["DEFAULT_ERROR"]
    assert "application/problem+json" in default["content"]
    docs = api.get("/api/docs", "alice")
    assert docs.status_code == 200 and b"swagger" in docs.data.lower()

    signed_in = api.client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
    assert signed_in.status_code == 200
    assert api.client.get("/api/docs").status_code == 200  # the page, and the document it loads, by cookie
    assert api.client.get("/api/openapi.json").json["info"]["title"] == document["info"]["title"]
    # a session that has since ended (signed out elsewhere, expired, revoked): sign in again, as on every page
    with api.client.session_transaction() as cookie:
        cookie[SESSION_TOKEN] = "a-token-that-ended"
    for path in ("/api/docs", "/inbox"):
        again = api.client.get(path)
        assert again.status_code == 302 and again.headers["Location"].endswith(f"/login?next={path}"), path
    assert_problem(api.client.get("/api/openapi.json"), 401, "unauthenticated")


