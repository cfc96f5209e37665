"""The identity service without Flask, migration 0002 up and down, and run.py's commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select

from engine.core import Engine
from engine.db.migrate import downgrade, upgrade
from engine.errors import AuthenticationFailed, Conflict, PermissionDenied
from engine.identity import IdentityService
from engine.identity.models import User
from engine.settings import Settings
from engine.views import Actor, AuditType
from tests.api.conftest import cheap_passwords
from tests.conftest import EngineFactory

ROOT = Path(__file__).resolve().parents[2]
ORG_CHART = ROOT / "processes" / "org_chart.json"


@pytest.fixture
def identity(engine: Engine, settings: Settings) -> IdentityService:
    return IdentityService(engine.db, engine.audit, settings, passwords=cheap_passwords())


def test_org_chart_loads_idempotently_and_demo_users_get_staff(identity: IdentityService, engine: Engine) -> None:
    first = identity.load_org_chart(ORG_CHART)
    assert "ops_service" in first.groups_created and {"manager", "leader"} <= set(first.roles_added)
    again = identity.load_org_chart(ORG_CHART)
    assert (again.groups_created, again.groups_updated, again.roles_added) == ([], [], [])
    assert len(engine.audit_events(type=AuditType.GROUP_CHANGED)) == 1
    groups = {g.key: g for g in identity.list_groups()}
    assert groups["service_desk"].parent == "ops_service" and groups["service_desk"].name["zh"] == "服务台"
    demo = {u.username: u for u in identity.demo_users(ORG_CHART)}
    assert demo["desk1"].roles == ["staff"] and demo["owner1"].roles == ["process_owner"]
    assert demo["deputy1"].groups == ["deputy_gm", "emergency_group"]


def test_passwords_are_argon2_hashed_and_users_unique(identity: IdentityService, engine: Engine) -> None:
    identity.create_user("zoe", "a-long-password")
    with engine.db.reading() as session:
        stored = session.execute(select(User.password_hash).where(User.username == "zoe")).scalar_one()
    assert stored.startswith("$argon2id$") and "a-long-password" not in stored
    with pytest.raises(Conflict):
        identity.create_user("zoe", "another-password")
    with pytest.raises(PermissionDenied):
        identity.create_user("yan", "a-long-password", actor=Actor("zoe"))
    issued = identity.login("zoe", "a-long-password", "127.0.0.1")
    assert identity.authenticate(issued.token).actor == Actor("zoe")
    with pytest.raises(AuthenticationFailed):
        identity.authenticate(issued.token, kind="session")  # a bearer token is not a session


def test_migration_0002_upgrades_and_downgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"app_user", "user_group", "role", "user_group_member", "user_role", "api_token",
            "login_failure"} <= tables
    downgrade(url, "0001")
    tables = set(inspect(create_engine(url)).get_table_names())
    assert "app_user" not in tables and "process_instance" in tables
    upgrade(url)


def test_run_py_init_create_user_deploy_and_audit_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    import run

    monkeypatch.setenv("OPSFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert run.main(["init"]) == 0
    out = capsys.readouterr().out
    assert "Demo users created" in out and "desk1" in out and "service_request" in out
    assert run.main(["init"]) == 0
    assert "already exist" in capsys.readouterr().out
    assert run.main(["create-user", "--username", "kim", "--password", "long-enough-1",
                     "--groups", "service_desk", "--roles", "staff"]) == 0
    assert run.main(["create-user", "--username", "kim", "--password", "long-enough-1"]) == 1
    assert run.main(["audit-verify"]) == 0
    assert "OK" in capsys.readouterr().out
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_event WHERE id = 2")
    assert run.main(["audit-verify"]) == 1
    assert "BROKEN" in capsys.readouterr().out


def test_run_py_deploy_reports_invalid_bundles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    import run

    monkeypatch.setenv("OPSFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("OPSFLOW_FORMS_DIR", str(ROOT / "tests" / "fixtures" / "forms"))
    upgrade(f"sqlite:///{tmp_path / 'cli.db'}")
    assert run.main(["deploy", str(ROOT / "tests" / "fixtures" / "bpmn" / "approval.bpmn")]) == 0
    assert "approval" in capsys.readouterr().out
    bad = tmp_path / "bad.bpmn"
    bad.write_text("<not xml", "utf-8")
    assert run.main(["deploy", str(bad)]) == 1
    assert "error:" in capsys.readouterr().err
    assert run.main(["deploy", str(tmp_path / "missing.bpmn")]) == 2


@pytest.mark.parametrize("command", [["serve", "--no-worker"], ["worker"]])
def test_run_py_keeps_start_up_out_of_later_garbage_collections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                command: list[str]) -> None:
    """By the time the server serves (or the worker works), start-up's objects are frozen: a full collection in
    the middle of a request walks only what serving made (bench/gc_pause.py: ~100 ms -> ~2 ms)."""
    import gc

    import waitress

    import run

    monkeypatch.setenv("OPSFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    assert run.main(["init"]) == 0
    seen: list[int] = []
    monkeypatch.setattr(waitress, "serve", lambda app, **options: seen.append(gc.get_freeze_count()))
    monkeypatch.setattr(run.Worker, "run", lambda worker: seen.append(gc.get_freeze_count()))
    monkeypatch.setattr(run.signal, "signal", lambda signum, handler: None)  # keep pytest's own handlers
    gc.unfreeze()
    try:
        assert run.main(command) == 0
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
    assert len(seen) == 1 and seen[0] > 10_000  # modules, the app, its metadata


def test_a_sign_in_remembers_its_origin_once_however_often(any_db_url: str, make_engine: EngineFactory) -> None:
    """The known origin is one row per account and origin, refreshed by each sign-in (an upsert on both
    databases), and goes with the account."""
    from engine.identity.models import LoginOrigin

    engine = make_engine(any_db_url)
    identity = IdentityService(engine.db, engine.audit, engine.settings, passwords=cheap_passwords())
    identity.create_user("kim", "long-enough-1")
    for address in ("10.0.0.1", "10.0.0.1", "2001:db8:0:1::5", "2001:db8:0:1::6"):
        identity.login("kim", "long-enough-1", address)
    with engine.db.reading() as session:
        rows = session.execute(select(LoginOrigin.origin, LoginOrigin.last_success_at)
                               .order_by(LoginOrigin.origin)).all()
    assert [origin for origin, _ in rows] == ["10.0.0.1", "2001:db8:0:1::/64"]


def test_sign_in_rows_no_limit_counts_are_dropped(any_db_url: str, make_engine: EngineFactory) -> None:
    """Failures older than the window and origins older than the known-origin days go, at most once a minute;
    what a limit still counts stays."""
    from datetime import timedelta

    from engine.db.types import utcnow
    from engine.identity.models import LoginFailure, LoginOrigin

    engine = make_engine(any_db_url)
    identity = IdentityService(engine.db, engine.audit, engine.settings, passwords=cheap_passwords())
    identity.create_user("kim", "long-enough-1")
    now, window = utcnow(), timedelta(seconds=engine.settings.login_window_seconds)
    with engine.db.transaction() as session:
        kim = session.scalars(select(User).where(User.username == "kim")).one()
        session.add_all([
            LoginFailure(username="kim", address="10.0.0.9", occurred_at=now - window - timedelta(seconds=5)),
            LoginFailure(username="kim", address="10.0.0.9", occurred_at=now - window + timedelta(seconds=60)),
            LoginFailure(username="nobody", address="10.0.0.8", occurred_at=now - timedelta(days=400)),
            LoginOrigin(user_id=kim.id, origin="10.0.0.7", last_success_at=now - timedelta(days=31)),
            LoginOrigin(user_id=kim.id, origin="10.0.0.6", last_success_at=now - timedelta(days=29)),
        ])

    def rows() -> tuple[list[str], list[str]]:
        with engine.db.reading() as session:
            failures = session.scalars(select(LoginFailure.address).order_by(LoginFailure.address)).all()
            origins = session.scalars(select(LoginOrigin.origin).order_by(LoginOrigin.origin)).all()
        return list(failures), list(origins)

    with pytest.raises(AuthenticationFailed):
        identity.login("kim", "wrong-password", "10.0.0.5")
    assert rows() == (["10.0.0.5", "10.0.0.9"], ["10.0.0.6"])  # the recent ones, and this attempt
    with engine.db.transaction() as session:
        session.add(LoginFailure(username="x", address="10.0.0.4", occurred_at=now - timedelta(days=1)))
    with pytest.raises(AuthenticationFailed):
        identity.login("kim", "wrong-password", "10.0.0.5")
    assert "10.0.0.4" in rows()[0]  # not again within the minute
