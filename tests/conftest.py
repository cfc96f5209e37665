"""Fixtures shared by every tier: databases (SQLite always, PostgreSQL when configured), engines, actors."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from engine.core import Engine
from engine.db.migrate import upgrade
from engine.runtime import live_index
from engine.settings import Settings
from engine.views import Actor, Role

FIXTURES = Path(__file__).parent / "fixtures"
# Every answer of the READY/WAITING index is checked against SpiffWorkflow's own walk of the tree.
live_index.VERIFY = True
PG_ENV = "OPSFLOW_TEST_PG_URL"


def _pg_url_or_skip() -> str:
    url = os.environ.get(PG_ENV)
    if url:
        return url
    if os.environ.get("OPSFLOW_REQUIRE_PG"):
        pytest.fail(f"PostgreSQL tests are mandatory here (OPSFLOW_REQUIRE_PG is set) but {PG_ENV} is not set")
    pytest.skip(f"PostgreSQL not configured: set {PG_ENV}=postgresql+psycopg://postgres@127.0.0.1:5432/opsflow_test")


def reset_pg(url: str) -> None:
    """An empty public schema, so every test migrates from nothing."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def pg_url() -> str:
    url = _pg_url_or_skip()
    reset_pg(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'opsflow.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs the test on SQLite and again on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'opsflow.db'}"
    url = _pg_url_or_skip()
    reset_pg(url)
    return url


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database brought to the newest migration once; each test gets a copy (upgrading costs ~1.5 s)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


EngineFactory = Callable[..., Engine]


@pytest.fixture
def make_engine(sqlite_url: str) -> Iterator[EngineFactory]:
    """Build engines on one database (migrated once); extra keyword arguments override Settings."""
    made: list[Engine] = []
    migrated: set[str] = set()

    def factory(url: str | None = None, **overrides: Any) -> Engine:
        url = url or sqlite_url
        settings = Settings(
            database_url=url,
            forms_dir=overrides.pop("forms_dir", str(FIXTURES / "forms")),
            verify_state_writes=overrides.pop("verify_state_writes", True),
            **overrides,
        )
        engine = Engine(settings)
        if url not in migrated:
            engine.migrate()
            migrated.add(url)
        made.append(engine)
        return engine

    yield factory
    for engine in made:
        engine.close()


@pytest.fixture
def engine(make_engine: EngineFactory) -> Engine:
    return make_engine()


def fixture_files(*names: str) -> dict[str, bytes]:
    return {name: (FIXTURES / "bpmn" / name).read_bytes() for name in names}


OWNER = Actor("olivia", roles=frozenset({Role.PROCESS_OWNER, Role.STAFF}))
ALICE = Actor("alice", groups=frozenset({"requesters"}), roles=frozenset({Role.STAFF}))
BOB = Actor("bob", groups=frozenset({"reviewers"}), roles=frozenset({Role.STAFF}))
CAROL = Actor("carol", groups=frozenset({"reviewers", "workers"}), roles=frozenset({Role.STAFF}))
DAVE = Actor("dave", groups=frozenset({"workers"}), roles=frozenset({Role.STAFF}))
AUDITOR = Actor("audrey", roles=frozenset({Role.AUDITOR}))
ADMIN = Actor("adam", roles=frozenset({Role.ADMIN}))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests last: their live server (and its worker thread) then lives only while they run."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid.replace("\\", "/"))
