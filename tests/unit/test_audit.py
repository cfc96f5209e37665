"""The audit trail: chained events, tamper detection, append-only on PostgreSQL, one event per action."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from engine.audit import GENESIS, AuditLog
from engine.core import Engine
from engine.db.models import AuditEvent
from engine.errors import PermissionDenied, ScriptError
from engine.views import AuditEventView, AuditType, InstanceState
from tests.conftest import ADMIN, ALICE, BOB, CAROL, DAVE, OWNER, fixture_files

APPROVAL = {"title": "New laptop", "amount": 1200, "publish_by": "2030-01-01T00:00:00Z"}


def busy_trail(engine: Engine) -> list[AuditEventView]:
    """Deploy, start, claim, unclaim, complete: a trail of a dozen events."""
    engine.definitions.deploy(fixture_files("approval.bpmn", "loop.bpmn"), OWNER)
    case = engine.instances.start("approval", APPROVAL, ALICE, business_key="REQ-1")
    review = case.open_tasks[0].id
    engine.tasks.claim(review, BOB)
    engine.tasks.unclaim(review, BOB)
    case = engine.tasks.complete(review, {"decision": "approve", "comment": "ok"}, CAROL)
    engine.tasks.complete(case.open_tasks[0].id, {"published": True}, ALICE)
    loop = engine.instances.start("loop", {"limit": 2}, DAVE)
    engine.tasks.complete(loop.open_tasks[0].id, {"note": "first"}, DAVE)
    events = engine.audit_events()
    assert len(events) >= 12
    return events


def tamper(engine: Engine, *statements: str, **params: object) -> None:
    """Raw SQL behind the engine's back; on PostgreSQL as a superuser who switched the guard off."""
    is_pg = not engine.db.is_sqlite
    with engine.db.write_engine.begin() as conn:
        if is_pg:
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change"))
        for statement in statements:
            conn.execute(text(statement), params)
        if is_pg:
            conn.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_change"))


def test_events_are_chained_with_consecutive_ids(any_db_url: str, make_engine) -> None:
    engine = make_engine(any_db_url, verify_state_writes=False)
    events = busy_trail(engine)
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == GENESIS
    for previous, event in itertools.pairwise(events):
        assert event.prev_hash == previous.hash
    assert len({e.hash for e in events}) == len(events)
    assert all(len(e.hash) == 64 and int(e.hash, 16) >= 0 for e in events)
    result = engine.verify_audit()
    assert (result.ok, result.checked, result.first_bad_event) == (True, len(events), None)


def test_an_empty_trail_verifies(any_db_url: str, make_engine) -> None:
    result = make_engine(any_db_url).verify_audit()
    assert (result.ok, result.checked) == (True, 0)


@pytest.mark.parametrize("column, value", [
    ("data", '{"element_id":"review","name":"Review request","data":{"decision":"reject"}}'),
    ("actor", "mallory"),
    ("type", "task_claimed"),
])
def test_verify_finds_an_altered_event(any_db_url: str, make_engine, column: str, value: str) -> None:
    engine = make_engine(any_db_url, verify_state_writes=False)
    events = busy_trail(engine)
    target = next(e for e in events if e.type == AuditType.TASK_COMPLETED)
    tamper(engine, f"UPDATE audit_event SET {column} = :value WHERE id = :id", value=value, id=target.id)
    result = engine.verify_audit()
    assert (result.ok, result.first_bad_event, result.checked) == (False, target.id, target.id - 1)
    assert "altered" in (result.reason or "")


def test_verify_finds_an_event_inserted_in_the_middle(any_db_url: str, make_engine) -> None:
    engine = make_engine(any_db_url, verify_state_writes=False)
    events = busy_trail(engine)
    k = 5
    for event in reversed(events[k:]):  # make room for id k+1, highest first (ids are unique)
        tamper(engine, "UPDATE audit_event SET id = :new WHERE id = :old", new=event.id + 1, old=event.id)
    forged = AuditEvent(id=k + 1, occurred_at=datetime.now(UTC), type=str(AuditType.TASK_COMPLETED), actor="mallory",
                        instance_id=events[k - 1].instance_id, task_id=None, definition_id=events[k - 1].definition_id,
                        process_key="approval", data="{}", prev_hash=events[k - 1].hash)
    forged.hash = engine.audit.digest(forged)  # a plausible hash: right for its own content and predecessor
    with engine.db.write_engine.begin() as conn:
        conn.execute(insert(AuditEvent.__table__).values(
            {c.name: getattr(forged, c.name) for c in AuditEvent.__table__.columns}))
    result = engine.verify_audit()
    # the forgery links to its predecessor, so the break shows at the event that used to follow it
    assert (result.ok, result.first_bad_event, result.checked) == (False, k + 2, k + 1)


def test_verify_finds_an_event_deleted_from_the_middle(any_db_url: str, make_engine) -> None:
    engine = make_engine(any_db_url, verify_state_writes=False)
    busy_trail(engine)
    tamper(engine, "DELETE FROM audit_event WHERE id = 4")
    result = engine.verify_audit()
    assert (result.ok, result.first_bad_event, result.checked) == (False, 4, 3)
    assert "4 is missing" in (result.reason or "")


def test_verify_finds_the_last_event_deleted(any_db_url: str, make_engine) -> None:
    engine = make_engine(any_db_url, verify_state_writes=False)
    events = busy_trail(engine)
    last = events[-1].id
    tamper(engine, "DELETE FROM audit_event WHERE id = :id", id=last)
    result = engine.verify_audit()
    assert (result.ok, result.first_bad_event, result.checked) == (False, last, last - 1)
    assert f"{last - 1} events but {last} were written" in (result.reason or "")
    tamper(engine, "DELETE FROM audit_event WHERE id > 3")  # a larger truncation
    result = engine.verify_audit()
    assert (result.ok, result.first_bad_event, result.checked) == (False, 4, 3)


def test_verify_finds_an_event_appended_behind_the_heads_back(any_db_url: str, make_engine) -> None:
    engine = make_engine(any_db_url, verify_state_writes=False)
    events = busy_trail(engine)
    last = events[-1]
    forged = AuditEvent(id=last.id + 1, occurred_at=datetime.now(UTC), type="task_completed", actor="mallory",
                        data="{}", prev_hash=last.hash, hash="0" * 64)
    with engine.db.transaction() as session:  # appended without moving the head
        session.add(forged)
    result = engine.verify_audit()
    assert not result.ok and result.first_bad_event == last.id + 1


def test_events_appended_while_verify_walks_are_no_false_alarm(any_db_url: str, make_engine, monkeypatch) -> None:
    engine = make_engine(any_db_url, verify_state_writes=False)
    busy_trail(engine)
    walk = AuditLog._walk
    appended: list[int] = []

    def walk_while_others_write(*args, **kwargs):  # type: ignore[no-untyped-def]
        for event in walk(*args, **kwargs):
            yield event
            if not appended:  # another user acts (and commits) while the check is under way
                appended.append(event.id)
                engine.instances.start("loop", {"limit": 2}, DAVE)

    monkeypatch.setattr(AuditLog, "_walk", staticmethod(walk_while_others_write))
    result = engine.verify_audit()
    assert appended and result.ok, result.reason


def test_verify_reports_the_first_of_several_changes(any_db_url: str, make_engine) -> None:
    engine = make_engine(any_db_url, verify_state_writes=False)
    busy_trail(engine)
    tamper(engine, "DELETE FROM audit_event WHERE id = 9", "UPDATE audit_event SET actor = 'x' WHERE id = 3")
    result = engine.verify_audit()
    assert (result.ok, result.first_bad_event) == (False, 3)


def test_a_keyed_trail_does_not_verify_under_another_key(any_db_url: str, make_engine) -> None:
    engine = make_engine(any_db_url, audit_key="first-key", verify_state_writes=False)
    busy_trail(engine)
    assert engine.verify_audit().ok
    other = make_engine(any_db_url, audit_key="second-key")
    result = other.verify_audit()
    assert (result.ok, result.first_bad_event) == (False, 1)


@pytest.mark.pg
@pytest.mark.parametrize("statement", [
    "UPDATE audit_event SET actor = 'mallory' WHERE id = 2",
    "DELETE FROM audit_event WHERE id = 2",
    "DELETE FROM audit_event",
    "TRUNCATE audit_event",
])
def test_postgresql_refuses_to_change_or_delete_audit_events(pg_url: str, make_engine, statement: str) -> None:
    engine = make_engine(pg_url, verify_state_writes=False)
    events = busy_trail(engine)
    with pytest.raises(DBAPIError, match="append-only"), engine.db.write_engine.begin() as conn:
        conn.execute(text(statement))
    assert [e.hash for e in engine.audit_events()] == [e.hash for e in events]
    assert engine.verify_audit().ok
    engine.instances.start("loop", {"limit": 1}, DAVE)  # appending still works
    assert engine.verify_audit().checked == len(events) + 2


def test_every_action_writes_its_event(any_db_url: str, make_engine) -> None:
    engine = make_engine(any_db_url, verify_state_writes=False)
    deployed = engine.definitions.deploy(fixture_files("approval.bpmn", "failing.bpmn"), OWNER)
    approval_id = next(d.id for d in deployed.definitions if d.key == "approval")
    case = engine.instances.start("approval", APPROVAL, ALICE, business_key="REQ-9")
    review = case.open_tasks[0].id
    reviewer_alice = ALICE.__class__("alice", groups=frozenset({"reviewers"}))
    with pytest.raises(PermissionDenied):
        engine.tasks.complete(review, {"decision": "approve"}, reviewer_alice)
    engine.tasks.claim(review, BOB)
    engine.tasks.unclaim(review, BOB)
    engine.tasks.assign(review, "carol", ADMIN)
    case = engine.tasks.complete(review, {"decision": "approve", "comment": "fine"}, CAROL)
    publish = case.open_tasks[0].id
    engine.instances.suspend(case.id, ADMIN)
    engine.instances.resume(case.id, ADMIN)
    engine.instances.cancel(case.id, ALICE)
    done = engine.instances.start("approval", APPROVAL, ALICE)
    engine.tasks.complete(done.open_tasks[0].id, {"decision": "reject"}, BOB)
    failing = engine.instances.start("failing", {}, DAVE)
    with pytest.raises(ScriptError):
        engine.tasks.complete(failing.open_tasks[0].id, {"note": "x"}, DAVE)

    on_case = [(e.type, e.actor, e.task_id) for e in engine.audit_events(instance_id=case.id)]
    assert on_case == [
        ("instance_started", "alice", None),
        ("task_created", "alice", review),
        ("task_refused", "alice", review),
        ("task_claimed", "bob", review),
        ("task_unclaimed", "bob", review),
        ("task_assigned", "adam", review),
        ("task_completed", "carol", review),
        ("task_created", "carol", publish),
        ("instance_suspended", "adam", None),
        ("instance_resumed", "adam", None),
        ("instance_cancelled", "alice", None),
    ]
    for event in engine.audit_events(instance_id=case.id):
        assert (event.definition_id, event.process_key) == (approval_id, "approval")
        assert event.occurred_at.tzinfo is not None
    by_type = {e.type: e for e in reversed(engine.audit_events(instance_id=case.id))}  # the first of each
    assert by_type["instance_started"].data["business_key"] == "REQ-9"
    assert by_type["instance_started"].data["data"]["title"] == "New laptop"
    assert by_type["instance_started"].data["version"] == 1
    assert by_type["task_completed"].data["data"] == {"decision": "approve", "comment": "fine"}
    assert by_type["task_completed"].data["element_id"] == "review"
    assert by_type["task_assigned"].data["assignee"] == "carol"
    assert by_type["task_unclaimed"].data["previous_assignee"] == "bob"
    assert "separation of duties" in by_type["task_refused"].data["reason"]
    assert by_type["task_created"].data["candidate_groups"] == ["reviewers"]
    assert by_type["task_created"].data["element_id"] == "review"

    (deploy_event, _) = engine.audit_events(type=AuditType.DEFINITION_DEPLOYED)
    assert (deploy_event.actor, deploy_event.definition_id) == ("olivia", approval_id)
    (completed,) = engine.audit_events(type=AuditType.INSTANCE_COMPLETED)
    assert (completed.instance_id, completed.actor) == (done.id, "bob")
    (incident,) = engine.audit_events(type=AuditType.INCIDENT_CREATED)
    assert (incident.instance_id, incident.actor, incident.process_key) == (failing.id, "dave", "failing")
    assert incident.definition_id is not None and incident.data["element_id"] == "boom"
    assert incident.data["error_type"] == "script_error" and incident.data["incident_id"] >= 1
    assert [e.type for e in engine.audit_events(instance_id=failing.id)][-1] == "incident_created"
    assert engine.verify_audit().ok


def test_concurrent_writers_keep_one_valid_chain(any_db_url: str, make_engine) -> None:
    make_engine(any_db_url).definitions.deploy(fixture_files("loop.bpmn"), OWNER)
    engines = [make_engine(any_db_url, verify_state_writes=False) for _ in range(2)]
    start = threading.Barrier(len(engines))
    errors: list[BaseException] = []
    finished: list[str] = []

    def work(engine: Engine) -> None:
        try:
            start.wait(timeout=30)
            for _ in range(4):
                case = engine.instances.start("loop", {"limit": 4}, DAVE)
                while case.open_tasks:
                    case = engine.tasks.complete(case.open_tasks[0].id, {}, DAVE)
                assert case.state == InstanceState.COMPLETED
                finished.append(case.id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and len(finished) == 8
    events = engines[0].audit_events()
    # per case: started, 4 x (task created, task completed), completed = 10 events; plus the deploy
    assert len(events) == 1 + 8 * 10
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert {e.actor for e in events[1:]} == {"dave"}
    result = engines[1].verify_audit()
    assert (result.ok, result.checked) == (True, len(events))


def test_a_rolled_back_append_does_not_break_the_chain(any_db_url: str, make_engine) -> None:
    """The head a process last wrote is assumed current; a transaction that appended events and then
    rolled back leaves that assumption wrong, and the next append must notice and chain to the stored head."""
    engine = make_engine(any_db_url, verify_state_writes=False)
    engine.definitions.deploy(fixture_files("loop.bpmn"), OWNER)

    def fail_after_the_audit_flush(session: object) -> None:
        raise RuntimeError("the commit did not happen")

    engine.db.on_before_commit(fail_after_the_audit_flush)
    with pytest.raises(RuntimeError), engine.db.transaction() as session:
        engine.audit.record(session, AuditType.GROUP_CHANGED, actor="admin", data={"group": "ghost"})
    engine.db._before_commit.remove(fail_after_the_audit_flush)
    assert engine.audit._head is not None and engine.audit._head[0] == 2  # believed written, but rolled back

    case = engine.instances.start("loop", {"limit": 1}, DAVE)
    engine.tasks.complete(case.open_tasks[0].id, {}, DAVE)
    events = engine.audit_events()
    assert "group_changed" not in {e.type for e in events}
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert engine.verify_audit().ok


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"actor": None, "instance_id": None, "task_id": None, "definition_id": None, "process_key": None},
        {"actor": "张三 \"quoted\" \\ back\nslash", "data": '{"意见":"同意","n":1,"s":"a\\"b"}'},
        {"type": "login_failed", "actor": "\u2028\x00\x1f\U0001f600", "data": "{}", "id": 10**18},
        # not the types events have: the encoder itself then writes them (booleans are not numbers here)
        {"definition_id": True, "id": 7},
        {"definition_id": 2.5},
        {"process_key": 12},
    ],
)
def test_the_hashed_content_is_exactly_the_canonical_json_of_the_event(fields: dict[str, object]) -> None:
    """The text built for speed is byte for byte what the JSON encoder gives, so hashes stay comparable
    with trails written before (and with any other implementation of the documented form)."""
    import json

    from engine.audit import _canonical

    event = {"id": 41, "type": "task_completed", "actor": "bob", "instance_id": "c-1", "task_id": "t-1",
             "definition_id": 3, "process_key": "approval", "data": '{"decision":"approve"}',
             "prev_hash": "ab" * 32, "occurred_at": datetime(2026, 12, 2, 18, 5, 1, 123456, tzinfo=UTC), **fields}
    expected = {name: value for name, value in event.items() if name != "occurred_at"}
    expected["occurred_at"] = event["occurred_at"].isoformat()  # type: ignore[attr-defined]
    assert _canonical(event) == json.dumps(expected, ensure_ascii=False, sort_keys=True,
                                           separators=(",", ":")).encode("utf-8")
