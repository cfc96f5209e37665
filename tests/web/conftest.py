"""Page fixtures: the app with the company's real procedures deployed and the org chart's demo users."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from engine.core import Engine
from engine.settings import Settings
from engine.views import Actor
from tests.api.conftest import PASSWORD, cheap_passwords
from tests.conftest import fixture_files

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"
FORMS = ROOT / "forms"
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def deploy_company(app: Flask) -> None:
    """What `run.py init` does on the embedded database: org chart, procedures, demo users."""
    services = app.extensions["opsflow"]
    services.identity.load_org_chart(PROCESSES / "org_chart.json")
    files: dict[str, bytes | str] = {p.name: p.read_bytes() for p in sorted(PROCESSES.iterdir())
                                     if p.suffix in (".bpmn", ".dmn")}
    services.engine.definitions.deploy(files, Actor.system())
    for user in services.identity.demo_users(PROCESSES / "org_chart.json"):
        services.identity.create_user(user.username, PASSWORD, groups=user.groups, roles=user.roles,
                                      display_name=user.display_name)


def without_forms(name: str, group: str) -> dict[str, bytes]:
    """A test diagram whose tasks need no form and are offered to one of the company's groups."""
    xml = fixture_files(name)[name].replace(b' camunda:formKey="loop_work"', b"")
    return {name: xml.replace(b'camunda:candidateGroups="workers"', f'camunda:candidateGroups="{group}"'.encode())}


@pytest.fixture(scope="session")
def company_db(tmp_path_factory: pytest.TempPathFactory, migrated_db: Path) -> Path:
    """A migrated database with the company deployed, built once; each test gets a copy."""
    path = tmp_path_factory.mktemp("company") / "company.db"
    shutil.copyfile(migrated_db, path)
    settings = Settings(database_url=f"sqlite:///{path}", forms_dir=str(FORMS), secret_key="test-secret")
    engine = Engine(settings)
    deploy_company(create_app(settings, engine, passwords=cheap_passwords()))
    engine.close()
    return path


@pytest.fixture
def site_settings(tmp_path: Path, company_db: Path) -> Settings:
    shutil.copyfile(company_db, tmp_path / "site.db")
    return Settings(database_url=f"sqlite:///{tmp_path / 'site.db'}", forms_dir=str(FORMS),
                    secret_key="test-secret", login_max_failures=3, login_window_seconds=600)


@pytest.fixture
def site(site_settings: Settings) -> Iterator[Flask]:
    engine = Engine(site_settings)
    app = create_app(site_settings, engine, passwords=cheap_passwords())
    app.config["TESTING"] = True
    yield app
    engine.close()


class Pages:
    """A browser-like client: signs in through the login form and sends each form's CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.csrf = ""

    def _remember_csrf(self, response: Any) -> Any:
        found = _CSRF.search(response.get_data(as_text=True)) if response.mimetype == "text/html" else None
        if found:
            self.csrf = found.group(1)
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self._remember_csrf(self.client.get(path, **kwargs))

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any) -> Any:
        if not self.csrf:
            self.get("/login")
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf)
        return self._remember_csrf(self.client.post(path, data=form, **kwargs))

    def login(self, username: str, password: str = PASSWORD) -> Pages:
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        self.get(response.headers["Location"])
        return self


@pytest.fixture
def pages(site: Flask) -> Pages:
    return Pages(site.test_client())


@pytest.fixture
def as_user(site: Flask):  # type: ignore[no-untyped-def]
    """as_user("desk1") -> a Pages client signed in as that demo user (each call a separate browser)."""
    def sign_in(username: str) -> Pages:
        return Pages(site.test_client()).login(username)
    return sign_in
