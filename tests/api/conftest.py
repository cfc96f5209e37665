"""API fixtures: an app on a fresh SQLite database (migrated by Alembic), users in groups, a client helper."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from engine.core import Engine
from engine.identity import IdentityService, Passwords
from engine.settings import Settings
from tests.conftest import FIXTURES, fixture_files

PASSWORD = "correct-horse-battery"
PROBLEM = "application/problem+json"
# (username, groups, roles)
PEOPLE = [
    ("olivia", [], ["process_owner", "staff"]),
    ("alice", ["requesters"], ["staff"]),
    ("bob", ["reviewers"], ["staff"]),
    ("carol", ["reviewers", "workers"], ["staff"]),
    ("dave", ["workers"], ["staff"]),
    ("audrey", [], ["auditor"]),
    ("adam", [], ["admin"]),
    ("root", [], ["admin", "auditor", "process_owner", "staff"]),
]
GROUPS = ["requesters", "reviewers", "workers"]


def cheap_passwords() -> Passwords:
    """argon2id with tiny costs: the tests sign in hundreds of times."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def org_chart(tmp_path: Path) -> Path:
    path = tmp_path / "org_chart.json"
    path.write_text(json.dumps({
        "groups": [{"key": g, "name": {"zh": g, "en": g.title()}, "parent": None, "roles": ["staff"]}
                   for g in GROUPS],
        "demo_users": [],
    }), "utf-8")
    return path


@pytest.fixture
def settings(tmp_path: Path, migrated_db: Path) -> Settings:
    shutil.copyfile(migrated_db, tmp_path / "api.db")
    return Settings(database_url=f"sqlite:///{tmp_path / 'api.db'}", forms_dir=str(FIXTURES / "forms"),
                    secret_key="test-secret", login_max_failures=3, login_max_failures_per_user=6,
                    login_max_failures_per_address=6, login_window_seconds=600)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = Engine(settings)
    yield engine
    engine.close()


@pytest.fixture
def app(settings: Settings, engine: Engine, tmp_path: Path) -> Flask:
    app = create_app(settings, engine, passwords=cheap_passwords())
    app.config["TESTING"] = True
    identity = identity_of(app)
    identity.load_org_chart(org_chart(tmp_path))
    for username, groups, roles in PEOPLE:
        identity.create_user(username, PASSWORD, groups=groups, roles=roles)
    return app


def identity_of(app: Flask) -> IdentityService:
    return app.extensions["opsflow"].identity  # type: ignore[no-any-return]


def engine_of(app: Flask) -> Engine:
    return app.extensions["opsflow"].engine  # type: ignore[no-any-return]


class Client:
    """A test client that signs people in with bearer tokens and remembers them."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            response = self.client.post("/api/auth/tokens", json={"username": username, "password": PASSWORD})
            assert response.status_code == 201, response.json
            self.tokens[username] = response.json["token"]
        return self.tokens[username]

    def headers(self, username: str | None, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if username:
            headers["Authorization"] = f"Bearer {self.token(username)}"
        return headers

    def request(self, method: str, path: str, as_: str | None = None, headers: dict[str, str] | None = None,
                **kwargs: Any) -> Any:
        return self.client.open(path, method=method, headers={**self.headers(as_), **(headers or {})}, **kwargs)

    def get(self, path: str, as_: str | None = None, **kwargs: Any) -> Any:
        return self.request("GET", path, as_, **kwargs)

    def post(self, path: str, as_: str | None = None, **kwargs: Any) -> Any:
        return self.request("POST", path, as_, **kwargs)

    def patch(self, path: str, as_: str | None = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, as_, **kwargs)

    def delete(self, path: str, as_: str | None = None, **kwargs: Any) -> Any:
        return self.request("DELETE", path, as_, **kwargs)


@pytest.fixture
def api(app: Flask) -> Client:
    return Client(app.test_client())


@pytest.fixture
def approval(app: Flask, api: Client) -> Client:
    """The approval fixture process deployed (through the API, as olivia)."""
    response = api.post("/api/process-definitions", "olivia", data=upload("approval.bpmn"),
                        content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    return api


def upload(*names: str, content: dict[str, bytes] | None = None) -> dict[str, Any]:
    """multipart data for POST /api/process-definitions."""
    files = content if content is not None else fixture_files(*names)
    return {"files": [(io.BytesIO(v), k) for k, v in files.items()]}


def start_case(api: Client, as_: str = "alice", **data: Any) -> dict[str, Any]:
    body = {"data": {"title": "New laptop", "amount": 1200, **data}, "business_key": "REQ-1"}
    response = api.post("/api/process-definitions/approval/instances", as_, json=body)
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


def assert_problem(response: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.headers["Content-Type"].startswith(PROBLEM)
    body = response.json if response.json is not None else json.loads(response.get_data(as_text=True))
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    if slug:
        assert body["type"].endswith(":" + slug), body
    return body  # type: ignore[no-any-return]
