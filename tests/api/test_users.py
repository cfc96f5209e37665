"""Administration of users and groups over the API."""

from __future__ import annotations

from flask import Flask

from engine.views import AuditType
from tests.api.conftest import PASSWORD, Client, assert_problem, engine_of


def test_admin_lists_creates_and_changes_users(app: Flask, api: Client) -> None:
    listing = api.get("/api/users?per_page=3", "adam").json
    assert listing["total"] == 8 and len(listing["items"]) == 3 and listing["per_page"] == 3
    assert api.get("/api/users?q=car", "adam").json["items"][0]["username"] == "carol"
    created = api.post("/api/users", "adam", json={"username": "frank", "password": "long-enough-pw",
                                                    "groups": ["workers"], "roles": ["staff"],
                                                    "display_name": {"zh": "弗兰克", "en": "Frank"}})
    assert created.status_code == 201
    assert created.json["groups"] == ["workers"] and "password" not in created.json
    signed_in = api.post("/api/auth/tokens", json={"username": "frank", "password": "long-enough-pw"})
    assert signed_in.status_code == 201
    api.tokens["frank"] = signed_in.json["token"]
    assert_problem(api.post("/api/users", "adam", json={"username": "frank", "password": "long-enough-pw"}), 409)
    body = assert_problem(api.post("/api/users", "adam", json={"username": "gina", "password": "short",
                                                                "groups": ["nope"]}), 422)
    assert "password" in body["errors"]
    body = assert_problem(api.post("/api/users", "adam", json={"username": "gina", "password": "long-enough",
                                                                "groups": ["nope"], "roles": ["king"]}), 422)
    assert set(body["errors"]) == {"groups", "roles"}
    changed = api.patch("/api/users/frank", "adam", json={"groups": ["reviewers", "workers"],
                                                          "roles": ["staff", "auditor"], "language": "en"})
    assert changed.json["groups"] == ["reviewers", "workers"] and changed.json["roles"] == ["auditor", "staff"]
    assert api.get("/api/me", "frank").json["language"] == "en"
    assert_problem(api.patch("/api/users/ghost", "adam", json={"active": False}), 404)
    assert_problem(api.patch("/api/users/adam", "adam", json={"active": False}), 422)
    kinds = [e.type for e in engine_of(app).audit_events() if e.type in (AuditType.USER_CREATED,
                                                                           AuditType.USER_CHANGED)]
    assert kinds[-2:] == ["user_created", "user_changed"]


def test_user_administration_is_for_admins(api: Client) -> None:
    assert_problem(api.get("/api/users", "alice"), 403)
    assert_problem(api.post("/api/users", "audrey", json={"username": "x", "password": PASSWORD}), 403)
    assert_problem(api.patch("/api/users/bob", "alice", json={"roles": ["admin"]}), 403)
    assert_problem(api.get("/api/users/bob", "alice"), 403)
    assert api.get("/api/users/alice", "alice").json["username"] == "alice"
    assert api.get("/api/users/bob", "adam").json["groups"] == ["reviewers"]


def test_groups_are_listed_with_member_counts(api: Client) -> None:
    groups = {g["key"]: g for g in api.get("/api/groups", "alice").json}
    assert set(groups) == {"requesters", "reviewers", "workers"}
    assert groups["reviewers"]["members"] == 2 and groups["reviewers"]["name"]["en"] == "Reviewers"


def test_a_new_password_ends_the_sessions_and_tokens_the_old_one_opened(api: Client) -> None:
    old = api.post("/api/auth/tokens", json={"username": "dave", "password": PASSWORD}).json["token"]
    assert api.client.get("/api/me", headers={"Authorization": f"Bearer {old}"}).status_code == 200
    assert api.patch("/api/users/dave", "adam", json={"password": "a-new-long-password"}).status_code == 200
    assert_problem(api.client.get("/api/me", headers={"Authorization": f"Bearer {old}"}), 401)
    assert_problem(api.post("/api/auth/tokens", json={"username": "dave", "password": PASSWORD}), 401)
    assert api.post("/api/auth/tokens", json={"username": "dave", "password": "a-new-long-password"}).status_code == 201
