"""SQLite's write path: one kept connection per thread, the ORM joining its transaction, driver errors."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from engine.core import Engine
from engine.db.models import Incident, ProcessDefinition
from engine.db.session import Database
from engine.db.types import utcnow
from tests.conftest import DAVE, OWNER, fixture_files


@pytest.fixture
def db(engine: Engine) -> Database:
    return engine.db


def _database_file(db: Database) -> str:
    assert db.url.startswith("sqlite:///")
    return db.url.removeprefix("sqlite:///")


def _can_take_write_lock(path: str) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        other.close()


def test_the_write_lock_is_held_from_begin_to_commit_even_across_first_orm_use(db: Database) -> None:
    """SQLAlchemy rolls a connection back when its engine first connects: that must not end the step's
    transaction (the write lock would be gone and later statements would commit one by one)."""
    path = _database_file(db)
    with db.transaction() as session:
        assert not _can_take_write_lock(path)
        session.execute(select(ProcessDefinition)).all()  # the ORM's first connection, inside the step
        assert not _can_take_write_lock(path)
        db.fast.execute(session, "INSERT INTO audit_head (id, last_event_id, last_hash, count) "
                                 "VALUES (99, 0, 'x', 0)")
        assert not _can_take_write_lock(path)
    assert _can_take_write_lock(path)
    with db.reading() as session:
        assert session.execute(text("SELECT count(*) FROM audit_head WHERE id = 99")).scalar_one() == 1


def test_orm_and_hand_written_statements_commit_or_roll_back_together(db: Database) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), db.transaction() as session:
        session.add(Incident(instance_id=None, error_type="x", message="orm row", details={}, state="open",
                             created_at=utcnow()))
        session.flush()
        db.fast.execute(session, "INSERT INTO audit_head (id, last_event_id, last_hash, count) VALUES (98, 0, 'x', 0)")
        raise Boom
    with db.reading() as session:
        assert session.execute(select(Incident)).all() == []
        assert session.execute(text("SELECT count(*) FROM audit_head WHERE id = 98")).scalar_one() == 0

    with db.transaction() as session:
        session.add(Incident(instance_id=None, error_type="x", message="orm row", details={}, state="open",
                             created_at=utcnow()))
        db.fast.execute(session, "INSERT INTO audit_head (id, last_event_id, last_hash, count) VALUES (98, 0, 'x', 0)")
    with db.reading() as session:
        assert [i.message for i in session.execute(select(Incident)).scalars()] == ["orm row"]
        assert session.execute(text("SELECT count(*) FROM audit_head WHERE id = 98")).scalar_one() == 1


def test_write_transactions_do_not_nest(db: Database) -> None:
    with db.transaction(), pytest.raises(RuntimeError, match="do not nest"), db.transaction():
        pass
    with db.transaction() as session:  # the outer one ended cleanly: the thread can write again
        db.fast.execute(session, "SELECT 1")


def test_each_thread_writes_on_its_own_connection(db: Database) -> None:
    seen: list[int] = []

    def write() -> None:
        with db.transaction() as session:
            seen.append(id(session.info["opsflow_cursor"].connection))

    threads = [threading.Thread(target=write) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    write()
    write()
    assert len(set(seen[:3])) == 3
    assert seen[3] == seen[4]  # the same thread keeps its connection


def test_driver_errors_surface_as_sqlalchemy_errors(db: Database) -> None:
    with pytest.raises(IntegrityError, match="UNIQUE"), db.transaction() as session:
        db.fast.execute(session, "INSERT INTO audit_head (id, last_event_id, last_hash, count) VALUES (1, 0, 'x', 0)")
    with pytest.raises(OperationalError, match="no such table"), db.transaction() as session:
        db.fast.fetch(session, "SELECT * FROM no_such_table")
    with db.transaction() as session:  # and the connection is usable afterwards
        assert db.fast.fetch(session, "SELECT count(*) AS n FROM audit_head")[0]["n"] == 1


def test_a_driver_error_in_a_step_becomes_an_incident(engine: Engine, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    engine.definitions.deploy(fixture_files("approval.bpmn"), OWNER)
    case = engine.instances.start("approval", {"title": "Disk", "amount": 3, "publish_by": "2031-01-01T00:00:00Z"},
                                  DAVE)
    original = engine.store.save

    def broken_save(session, row, live, outcome, now):  # type: ignore[no-untyped-def]
        engine.db.fast.execute(session, "UPDATE no_such_table SET x = 1")

    monkeypatch.setattr(engine.store, "save", broken_save)
    reviewer = DAVE.__class__("rita", groups=frozenset({"reviewers"}))
    with pytest.raises(OperationalError):
        engine.tasks.complete(case.open_tasks[0].id, {"decision": "approve"}, reviewer)
    monkeypatch.setattr(engine.store, "save", original)
    with engine.db.reading() as session:
        incident = session.execute(select(Incident).where(Incident.instance_id == case.id)).scalar_one()
    assert incident.error_type == "OperationalError"
    assert engine.instances.get(case.id, DAVE).open_tasks  # the task is still open


def test_a_step_without_orm_work_makes_no_orm_session(db: Database) -> None:
    with db.transaction() as session:
        assert db.fast.fetch(session, "SELECT count(*) AS n FROM audit_head")[0]["n"] == 1
        assert not session.in_transaction()
        assert session._real is None  # type: ignore[attr-defined]  # nothing but FastSQL ran: no Session made
    with db.transaction() as session:
        session.info["marker"] = 1
        assert session.execute(select(ProcessDefinition)).all() is not None  # the ORM: now a real session
        assert session.in_transaction()
        real = session._real  # type: ignore[attr-defined]
        assert real is not None and real.info is session.info and real.info["marker"] == 1
