"""On PostgreSQL a step's writes travel in psycopg's pipeline (FastSQL.batched): one that fails there still fails
the whole step, as SQLAlchemy's error, with an incident and nothing of the step kept."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from engine.db.models import Incident
from engine.views import Actor, InstanceState
from tests.conftest import DAVE, OWNER, fixture_files
from tests.unit.test_failures_and_loops import _snapshot

pytestmark = pytest.mark.pg
REVIEWER = Actor("rita", groups=frozenset({"reviewers"}))


def _refuse_inserts(engine, table: str | None) -> None:
    with engine.db.transaction() as session:
        if table is None:
            session.execute(text("DROP TRIGGER IF EXISTS refuse_insert ON notification"))
            session.execute(text("DROP TRIGGER IF EXISTS refuse_insert ON audit_event"))
            return
        session.execute(text("CREATE OR REPLACE FUNCTION refuse_insert() RETURNS trigger LANGUAGE plpgsql AS "
                             "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"))
        session.execute(text(f"CREATE TRIGGER refuse_insert BEFORE INSERT ON {table} "
                             "FOR EACH ROW EXECUTE FUNCTION refuse_insert()"))


@pytest.mark.parametrize("table", ["notification", "audit_event"])  # in the step's writes; sent with the COMMIT
def test_a_write_failing_in_the_pipeline_fails_the_step_and_keeps_nothing(pg_url: str, make_engine,
                                                                          table: str) -> None:
    engine = make_engine(pg_url)
    engine.definitions.deploy(fixture_files("approval.bpmn"), OWNER)
    case = engine.instances.start("approval", {"title": "Disk", "amount": 3, "publish_by": "2031-01-01T00:00:00Z"},
                                  DAVE)
    before, events = _snapshot(engine, case.id), len(engine.audit_events())
    _refuse_inserts(engine, table)
    with pytest.raises(DBAPIError, match="refused by the test"):
        engine.tasks.complete(case.open_tasks[0].id, {"decision": "approve"}, REVIEWER)
    _refuse_inserts(engine, None)
    assert _snapshot(engine, case.id) == before
    with engine.db.reading() as session:
        incidents = session.scalars(select(Incident.error_type).where(Incident.instance_id == case.id)).all()
    if table == "notification":  # (with audit_event refused, recording the incident's own event failed too)
        assert incidents == ["ProgrammingError"]  # PL/pgSQL's RAISE, as SQLAlchemy names it
        assert [e.type for e in engine.audit_events()[events:]] == ["incident_created"]
    else:
        assert engine.audit_events()[events:] == []
    after = engine.tasks.complete(case.open_tasks[0].id, {"decision": "approve"}, REVIEWER)
    assert [t.element_id for t in after.open_tasks] == ["publish"] and after.state == InstanceState.RUNNING
    assert engine.verify_audit().ok


def test_a_steps_writes_and_its_audit_chain_are_pipelined(pg_url: str, make_engine, monkeypatch) -> None:
    from engine.db.fast import PIPELINE_KEY, FastSQL

    engine = make_engine(pg_url)
    engine.definitions.deploy(fixture_files("approval.bpmn"), OWNER)
    case = engine.instances.start("approval", {"title": "Disk", "amount": 3, "publish_by": "2031-01-01T00:00:00Z"},
                                  DAVE)
    sent: list[tuple[str, bool]] = []
    original = FastSQL.execute_many

    def recording(self, session, sql, rows):  # type: ignore[no-untyped-def]
        if rows:
            sent.append((sql.split("(")[0].strip(), PIPELINE_KEY in session.info))
        return original(self, session, sql, rows)

    original_send = FastSQL.send

    def recording_send(self, session, sql, params=None):  # type: ignore[no-untyped-def]
        sent.append((sql.split(" SET")[0].strip(), PIPELINE_KEY in session.info))
        return original_send(self, session, sql, params)

    monkeypatch.setattr(FastSQL, "execute_many", recording)
    monkeypatch.setattr(FastSQL, "send", recording_send)
    engine.tasks.complete(case.open_tasks[0].id, {"decision": "approve"}, REVIEWER)
    assert {"UPDATE human_task", "INSERT INTO engine_task", "INSERT INTO human_task",
            "INSERT INTO audit_event"} <= {s for s, _ in sent}
    assert all(pipelined for _, pipelined in sent), sent


@pytest.mark.parametrize("earlier", ["SELECT 'stale' AS answer", "UPDATE audit_head SET count = count"])
def test_a_read_inside_the_pipeline_gets_its_own_rows_whatever_was_sent_before(pg_url: str, make_engine,
                                                                              earlier: str) -> None:
    """The replies to statements sent without waiting can reach the shared cursor before a read's own reply
    (the server flushes once ~8 kB are pending): the read must wait for its own (seen: an earlier statement's
    rows returned, or 'the last operation didn't produce records')."""
    engine = make_engine(pg_url)
    fast = engine.db.fast
    with engine.db.transaction() as session, fast.batched(session):
        fast.send(session, earlier)
        fast.send(session, "SELECT repeat('x', 40000)")  # more output than the server holds back
        time.sleep(0.2)
        assert fast.fetch(session, "SELECT 42 AS answer") == [{"answer": 42}]
        assert fast.execute(session, "UPDATE audit_head SET count = count WHERE id = 1") == 1
