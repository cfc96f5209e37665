"""Failures roll a step back and become incidents; loops complete or stop with a clear error."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.core import Engine
from engine.db.models import EngineTask, Incident, ProcessInstance
from engine.errors import EngineError, ScriptError
from engine.views import InstanceState
from tests.conftest import ADMIN, DAVE, OWNER, fixture_files


def _snapshot(engine: Engine, instance_id: str) -> tuple:
    with engine.db.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        bodies = session.execute(
            select(EngineTask.task_id, EngineTask.body).where(EngineTask.instance_id == instance_id)
        ).all()
        return row.version, row.state, row.engine_header, sorted(bodies)


def test_script_error_rolls_back_the_step_and_records_an_incident(engine: Engine) -> None:
    engine.definitions.deploy(fixture_files("failing.bpmn"), OWNER)
    case = engine.instances.start("failing", {}, DAVE)
    task_id = case.open_tasks[0].id
    before = _snapshot(engine, case.id)
    events_before = len(engine.audit_events())

    with pytest.raises(ScriptError) as err:
        engine.tasks.complete(task_id, {"note": "x"}, DAVE)
    assert err.value.element_id == "boom"
    assert err.value.line == 2
    assert "ZeroDivisionError" in str(err.value)

    assert _snapshot(engine, case.id) == before  # nothing of the step was written
    view = engine.instances.get(case.id, ADMIN)
    assert view.state == InstanceState.RUNNING and view.open_tasks[0].id == task_id
    with engine.db.reading() as session:
        incident = session.execute(select(Incident).where(Incident.instance_id == case.id)).scalar_one()
    assert (incident.element_id, incident.error_type, incident.state) == ("boom", "script_error", "open")
    assert "ZeroDivisionError" in incident.message
    events = engine.audit_events()
    assert [e.type for e in events[events_before:]] == ["incident_created"]  # no task_completed leaked

    # The cached workflow was not left half-changed: the same task can be retried and fails the same way.
    with pytest.raises(ScriptError):
        engine.tasks.complete(task_id, {"note": "again"}, DAVE)
    assert _snapshot(engine, case.id) == before


def test_a_database_error_mid_step_leaves_the_case_as_it_was(engine: Engine, monkeypatch) -> None:
    from sqlalchemy.exc import OperationalError

    engine.definitions.deploy(fixture_files("approval.bpmn"), OWNER)
    case = engine.instances.start("approval", {"title": "Disk", "amount": 3, "publish_by": "2031-01-01T00:00:00Z"}, DAVE)
    before = _snapshot(engine, case.id)
    original = engine.store.save

    def failing_save(session, row, live, outcome, now):
        original(session, row, live, outcome, now)
        raise OperationalError("UPDATE", {}, Exception("disk I/O error"))

    monkeypatch.setattr(engine.store, "save", failing_save)
    reviewer = DAVE.__class__("rita", groups=frozenset({"reviewers"}))
    with pytest.raises(OperationalError):
        engine.tasks.complete(case.open_tasks[0].id, {"decision": "approve"}, reviewer)
    monkeypatch.setattr(engine.store, "save", original)
    assert _snapshot(engine, case.id) == before
    with engine.db.reading() as session:
        incident = session.execute(select(Incident).where(Incident.instance_id == case.id)).scalar_one()
    assert incident.error_type == "OperationalError"
    after = engine.tasks.complete(case.open_tasks[0].id, {"decision": "reject"}, reviewer)
    assert after.state == InstanceState.COMPLETED


def test_a_failing_start_creates_no_case_but_an_incident(engine: Engine) -> None:
    bad = (fixture_files("loop.bpmn")["loop.bpmn"].decode()
           .replace("count = 0", "count = undefined_name + 1"))
    engine.definitions.deploy({"loop.bpmn": bad}, OWNER)
    with pytest.raises(ScriptError, match="undefined_name"):
        engine.instances.start("loop", {"limit": 1}, DAVE)
    with engine.db.reading() as session:
        assert session.execute(select(func.count()).select_from(ProcessInstance)).scalar_one() == 0
        incident = session.execute(select(Incident)).scalar_one()
    assert (incident.process_key, incident.element_id, incident.instance_id) == ("loop", "init", None)


def _run_loop(engine: Engine, key: str, rounds: int):
    case = engine.instances.start(key, {"limit": rounds}, DAVE)
    done = 0
    while case.open_tasks:
        case = engine.tasks.complete(case.open_tasks[0].id, {}, DAVE)
        done += 1
    return case, done


@pytest.mark.slow
def test_a_back_edge_loop_of_1000_rounds_completes_correctly(make_engine) -> None:
    # Plain SpiffWorkflow reports this case *completed* after 333 rounds (its iterator stops at depth 1000).
    engine = make_engine(verify_state_writes=False)
    engine.definitions.deploy(fixture_files("loop.bpmn"), OWNER)
    case, done = _run_loop(engine, "loop", 1000)
    assert done == 1000
    assert case.state == InstanceState.COMPLETED
    assert case.data["count"] == 1000
    assert "end" in case.completed_element_ids
    # and it restores correctly at that depth
    fresh = make_engine(verify_state_writes=False)
    assert fresh.instances.get(case.id, ADMIN).data["count"] == 1000


def test_a_loop_through_a_parallel_join_completes_below_the_limit(make_engine) -> None:
    engine = make_engine()
    engine.definitions.deploy(fixture_files("parallel_loop.bpmn"), OWNER)
    case, done = _run_loop(engine, "parallel_loop", 40)
    assert (done, case.state, case.data["count"]) == (40, InstanceState.COMPLETED, 40)


def test_a_loop_past_the_depth_limit_ends_in_a_clear_recorded_error(make_engine) -> None:
    # Plain SpiffWorkflow raises RecursionError here after ~300 rounds.
    engine = make_engine(max_task_depth=300, verify_state_writes=False)
    engine.definitions.deploy(fixture_files("parallel_loop.bpmn"), OWNER)
    case = engine.instances.start("parallel_loop", {"limit": 1000}, DAVE)
    rounds = 0
    with pytest.raises(EngineError, match="loop limit reached") as err:
        while True:
            case = engine.tasks.complete(case.open_tasks[0].id, {}, DAVE)
            rounds += 1
    assert 40 < rounds < 100
    assert "OPSFLOW_MAX_TASK_DEPTH" in str(err.value)
    with engine.db.reading() as session:
        incident = session.execute(select(Incident).where(Incident.instance_id == case.id)).scalar_one()
    assert incident.error_type == "EngineError" and "loop limit reached" in incident.message
    # the case is left at its last good state, still open, not silently stalled or "completed"
    view = engine.instances.get(case.id, ADMIN)
    assert view.state == InstanceState.RUNNING and view.data["count"] == rounds
