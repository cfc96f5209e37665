"""Signing in: bearer tokens, session cookies with CSRF, throttling, expiry and revocation."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from api import create_app
from engine.core import Engine
from engine.identity.authn import counted_origin
from engine.identity.models import ApiToken
from engine.settings import Settings
from engine.views import AuditType
from tests.api.conftest import PASSWORD, Client, assert_problem, cheap_passwords, engine_of, identity_of


def test_token_is_issued_once_and_stored_only_as_a_hash(app: Flask, api: Client) -> None:
    response = api.post("/api/auth/tokens", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 201
    token = response.json["token"]
    assert len(token) > 40 and response.json["expires_at"].endswith("+00:00")
    with engine_of(app).db.reading() as session:
        stored = list(session.execute(select(ApiToken.token_hash)).scalars())
    assert token not in stored and all(len(h) == 64 for h in stored)
    me = api.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json == {"username": "alice", "display_name": {}, "groups": ["requesters"], "roles": ["staff"],
                       "language": "zh", "auth": "bearer"}


def test_every_endpoint_but_sign_in_needs_credentials(api: Client) -> None:
    for method, path in [("GET", "/api/process-definitions"), ("GET", "/api/tasks"), ("GET", "/api/me"),
                         ("POST", "/api/process-definitions/approval/instances"), ("GET", "/api/audit/events"),
                         ("GET", "/api/users"), ("GET", "/api/groups"), ("POST", "/api/tasks/x/complete")]:
        body = assert_problem(api.request(method, path), 401, "unauthenticated")
        assert "sign in" in body["detail"]


def test_bad_credentials_are_401_with_www_authenticate(api: Client) -> None:
    response = api.get("/api/me", headers={"Authorization": "Bearer nonsense"})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="opsflow", error="invalid_token"'
    assert_problem(api.get("/api/me", headers={"Authorization": "Basic YTpi"}), 401)
    assert_problem(api.post("/api/auth/tokens", json={"username": "alice", "password": "wrong"}), 401)
    assert_problem(api.post("/api/auth/tokens", json={"username": "nobody", "password": "wrong"}), 401)


def _sign_in(api: Client | FlaskClient, username: str, password: str, address: str) -> TestResponse:
    client = api.client if isinstance(api, Client) else api
    return client.post("/api/auth/tokens", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


# The test settings: 3 failures per account and address, 6 per account, 6 per address.


def test_failed_logins_are_audited_and_throttled_per_account_and_address(app: Flask, api: Client) -> None:
    for _ in range(3):
        assert_problem(api.post("/api/auth/tokens", json={"username": "bob", "password": "nope"}), 401)
    refused = api.post("/api/auth/tokens", json={"username": "bob", "password": PASSWORD})
    body = assert_problem(refused, 429, "too-many-attempts")
    assert 0 < int(refused.headers["Retry-After"]) <= 600 and body["retry_after"] == int(refused.headers["Retry-After"])
    events = engine_of(app).audit_events(type=AuditType.LOGIN_FAILED)
    assert [e.data["reason"] for e in events] == ["bad_credentials"] * 3 + ["throttled"]
    assert all(e.data["username"] == "bob" and "password" not in e.data for e in events)
    # the same address signs other people in (an office behind one address), and bob signs in elsewhere
    assert _sign_in(api, "carol", PASSWORD, "127.0.0.1").status_code == 201
    assert _sign_in(api, "bob", PASSWORD, "10.0.0.9").status_code == 201
    # ... which does not lift the limit where the wrong passwords came from
    assert_problem(_sign_in(api, "bob", PASSWORD, "127.0.0.1"), 429)


def test_one_address_cannot_lock_an_account_out_for_everyone(api: Client) -> None:
    for _ in range(10):  # refused attempts are not counted: this address adds 3 to bob's count
        _sign_in(api, "bob", "nope", "10.6.6.6")
    assert _sign_in(api, "bob", PASSWORD, "10.0.0.1").status_code == 201


def test_an_ipv6_host_is_counted_by_its_whole_64_not_address_by_address(api: Client) -> None:
    for host in ("2001:db8:0:1::a", "2001:db8:0:1::b", "2001:db8:0:1:ffff::c"):  # one /64: one origin
        assert_problem(_sign_in(api, "bob", "nope", host), 401)
    assert_problem(_sign_in(api, "bob", PASSWORD, "2001:db8:0:1::d"), 429)
    assert _sign_in(api, "bob", PASSWORD, "2001:db8:0:2::a").status_code == 201


@pytest.mark.parametrize(("address", "origin"), [
    ("10.1.2.3", "10.1.2.3"), ("2001:db8:0:1:2:3:4:5", "2001:db8:0:1::/64"), ("::ffff:10.1.2.3", "10.1.2.3"),
    ("unknown", "unknown"),
])
def test_sign_ins_are_counted_by_origin(address: str, origin: str) -> None:
    assert counted_origin(address) == origin


def test_failed_logins_from_many_addresses_throttle_the_account_everywhere(api: Client) -> None:
    for address in ("10.6.6.1", "10.6.6.2"):
        for _ in range(3):
            assert_problem(_sign_in(api, "bob", "nope", address), 401)
    assert_problem(_sign_in(api, "bob", PASSWORD, "10.0.0.1"), 429, "too-many-attempts")
    assert _sign_in(api, "carol", PASSWORD, "10.0.0.1").status_code == 201


def test_the_owner_is_not_locked_out_where_they_signed_in_before(api: Client) -> None:
    """Failures from several addresses throttle the account everywhere but at an origin it signed in from
    lately (the owner's desk); there the limit per account and address still holds."""
    assert _sign_in(api, "bob", PASSWORD, "10.0.0.1").status_code == 201
    for address in ("10.6.6.1", "10.6.6.2"):
        for _ in range(3):
            assert_problem(_sign_in(api, "bob", "nope", address), 401)
    assert _sign_in(api, "bob", PASSWORD, "10.0.0.1").status_code == 201
    assert_problem(_sign_in(api, "bob", PASSWORD, "10.0.0.2"), 429)
    for _ in range(3):
        assert_problem(_sign_in(api, "bob", "nope", "10.0.0.1"), 401)
    assert_problem(_sign_in(api, "bob", PASSWORD, "10.0.0.1"), 429)


def test_known_origins_can_be_switched_off(app: Flask, settings: Settings, engine: Engine) -> None:
    strict = create_app(replace(settings, login_known_origin_days=0), engine, passwords=cheap_passwords()).test_client()
    assert _sign_in(strict, "bob", PASSWORD, "10.0.0.1").status_code == 201
    for address in ("10.6.6.1", "10.6.6.2"):
        for _ in range(3):
            assert _sign_in(strict, "bob", "nope", address).status_code == 401
    assert _sign_in(strict, "bob", PASSWORD, "10.0.0.1").status_code == 429


def test_failed_logins_are_throttled_per_address(api: Client) -> None:
    for name in ("x1", "x2", "x3", "x4", "x5", "x6"):
        assert_problem(_sign_in(api, name, "nope", "10.1.1.1"), 401)
    assert_problem(_sign_in(api, "dave", PASSWORD, "10.1.1.1"), 429)
    assert _sign_in(api, "dave", PASSWORD, "10.2.2.2").status_code == 201


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(app: Flask, settings: Settings,
                                                                 engine: Engine) -> None:
    """With OPSFLOW_PROXY_COUNT=1 the address is the one the proxy forwards, so people behind the proxy
    are told apart; without it, X-Forwarded-For is the client's own claim and ignored."""
    def attempts(client_of: Flask, forwarded: str, password: str) -> int:
        return client_of.test_client().post("/api/auth/tokens", json={"username": "bob", "password": password},
                                      headers={"X-Forwarded-For": forwarded}).status_code

    proxied = create_app(replace(settings, proxy_count=1), engine, passwords=cheap_passwords())
    for _ in range(3):
        assert attempts(proxied, "203.0.113.7", "nope") == 401
    assert attempts(proxied, "203.0.113.7", PASSWORD) == 429
    assert attempts(proxied, "198.51.100.2", PASSWORD) == 201
    direct = app
    for forwarded in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        assert attempts(direct, forwarded, "nope") == 401
    assert attempts(direct, "192.0.2.4", PASSWORD) == 429


@pytest.mark.parametrize(("name", "value"), [("login_max_failures", "0"), ("login_max_failures_per_user", "0"),
                                           ("login_window_seconds", "0"), ("proxy_count", "-1"),
                                           ("login_known_origin_days", "-1")])
def test_a_throttling_setting_out_of_range_is_refused_at_start(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"OPSFLOW_{name.upper()} must be"):
        Settings.from_env({f"OPSFLOW_{name.upper()}": value})


def test_revoked_token_stops_working(api: Client) -> None:
    headers = api.headers("alice")
    assert api.client.delete("/api/auth/tokens/current", headers=headers).status_code == 204
    body = assert_problem(api.client.get("/api/me", headers=headers), 401)
    assert "revoked" in body["detail"]


def test_admin_revokes_someone_elses_token_and_others_may_not(app: Flask, api: Client) -> None:
    api.token("bob")
    (mine,) = [t for t in api.get("/api/auth/tokens", "bob").json if t["revoked_at"] is None]
    assert_problem(api.get("/api/auth/tokens?username=bob", "alice"), 403)
    assert_problem(api.delete(f"/api/auth/tokens/{mine['id']}", "alice"), 403)
    revoked = api.delete(f"/api/auth/tokens/{mine['id']}", "adam")
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    assert_problem(api.get("/api/me", "bob"), 401)
    assert_problem(api.delete("/api/auth/tokens/999999", "adam"), 404)
    assert engine_of(app).audit_events(type=AuditType.TOKEN_REVOKED)[-1].actor == "adam"


def test_tokens_expire(settings, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]

    app = create_app(replace(settings, token_ttl_hours=0), engine, passwords=cheap_passwords())
    identity_of(app).create_user("eve", PASSWORD)
    client = app.test_client()
    token = client.post("/api/auth/tokens", json={"username": "eve", "password": PASSWORD}).json["token"]
    body = assert_problem(client.get("/api/me", headers={"Authorization": f"Bearer {token}"}), 401)
    assert "expired" in body["detail"]


def test_deactivated_user_is_signed_out_everywhere(api: Client) -> None:
    headers = api.headers("dave")
    assert api.patch("/api/users/dave", "adam", json={"active": False}).status_code == 200
    assert_problem(api.client.get("/api/me", headers=headers), 401)
    assert_problem(api.post("/api/auth/tokens", json={"username": "dave", "password": PASSWORD}), 401)


def test_session_cookie_login_and_csrf_for_writes(approval: Client) -> None:
    client = approval.client
    response = client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "opsflow_session=" in cookie
    csrf = response.json["csrf_token"]
    assert client.get("/api/me").json["auth"] == "session"
    body = {"data": {"title": "New laptop", "amount": 10}}
    refused = client.post("/api/process-definitions/approval/instances", json=body)
    assert_problem(refused, 403, "csrf-failed")
    wrong = client.post("/api/process-definitions/approval/instances", json=body, headers={"X-CSRF-Token": "x"})
    assert_problem(wrong, 403, "csrf-failed")
    assert client.get("/api/auth/csrf").json["csrf_token"] == csrf
    ok = client.post("/api/process-definitions/approval/instances", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    assert client.get("/api/process-instances").json["total"] == 1
    # the bearer client needs no CSRF token
    assert approval.post("/api/process-definitions/approval/instances", "alice", json=body).status_code == 201
    out = client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert_problem(client.get("/api/me"), 401)


@pytest.mark.parametrize(("changes", "secure"), [
    ({"session_cookie_secure": True}, True),
    ({"base_url": "https://opsflow.example.com"}, True),  # served over https: secure without being told
    ({"base_url": "http://127.0.0.1:5000"}, False),
])
def test_secure_cookie_follows_settings(settings: Settings, engine: Engine, changes: dict[str, object],
                                        secure: bool) -> None:
    app = create_app(replace(settings, **changes), engine, passwords=cheap_passwords())  # type: ignore[arg-type]
    identity_of(app).create_user("sam", PASSWORD)
    response = app.test_client().post("/api/auth/login", json={"username": "sam", "password": PASSWORD})
    assert response.status_code == 200
    assert ("Secure" in response.headers["Set-Cookie"]) is secure


def test_me_language_follows_accept_language(api: Client) -> None:
    assert api.get("/api/me", "alice", headers={"Accept-Language": "en-US,en;q=0.9"}).json["language"] == "en"
    assert api.get("/api/me", "alice", headers={"Accept-Language": "zh-CN"}).json["language"] == "zh"


def test_every_documented_operation_except_sign_in_answers_401_without_credentials(api: Client) -> None:
    spec = api.get("/api/openapi.json", "alice").json
    checked = 0
    for path, operations in spec["paths"].items():
        concrete = path.replace("{token_id}", "1").replace("{incident_id}", "1").replace("{", "").replace("}", "")
        for method, operation in operations.items():
            if method == "parameters":
                continue
            if operation.get("security") == []:
                assert path in ("/api/auth/login", "/api/auth/tokens") and method == "post"
                continue
            assert_problem(api.request(method.upper(), concrete), 401, "unauthenticated")
            checked += 1
    assert checked >= 28


def test_sign_ins_sent_in_parallel_cannot_outrun_the_failure_limit(app: Flask, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Each attempt is counted before its password is checked (which is slow on purpose), so twenty wrong
    passwords sent at once get the limit's three answers and nineteen... refusals, not twenty checks."""
    passwords = identity_of(app).passwords
    check = passwords.verify
    monkeypatch.setattr(passwords, "verify", lambda stored, password: (time.sleep(0.05), check(stored, password))[1])
    barrier = threading.Barrier(20)
    answers: Counter[int] = Counter()

    def guess(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        answers[client.post("/api/auth/tokens", json={"username": "bob", "password": f"wrong{n}"}).status_code] += 1

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == Counter({401: 3, 429: 17})  # login_max_failures=3 in the test settings
