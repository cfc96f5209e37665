"""Boundary timers fire from jobs: a warning that leaves the task open, an escalation that interrupts it."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from engine.core import Engine
from engine.db.models import Job
from engine.views import AuditType, InstanceState
from tests.conftest import ADMIN, DAVE, OWNER, fixture_files


@pytest.fixture
def sla(any_db_url: str, make_engine) -> Engine:
    engine = make_engine(any_db_url)
    engine.definitions.deploy(fixture_files("sla_timers.bpmn"), OWNER)
    return engine


def jobs(engine: Engine) -> list[tuple[str, str]]:
    with engine.db.reading() as session:
        return sorted(session.execute(select(Job.element_id, Job.task_id)).all())


def open_elements(engine: Engine, case_id: str) -> list[str]:
    return sorted(t.element_id for t in engine.instances.get(case_id, ADMIN).open_tasks)


def run_until(engine: Engine, predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the timers"
        engine.jobs.run_due("test-worker")
        time.sleep(0.1)


def test_the_warning_leaves_the_task_open_and_the_breach_escalates(sla: Engine) -> None:
    case = sla.instances.start("sla_timers", {}, DAVE)
    assert [element for element, _ in jobs(sla)] == ["breach", "warn"]  # written with the step
    assert sla.jobs.run_due("early-worker") == 0  # nothing is due yet

    run_until(sla, lambda: "chase" in open_elements(sla, case.id))
    assert open_elements(sla, case.id) == ["chase", "handle"]  # non-interrupting: still handling
    assert [element for element, _ in jobs(sla)] == ["breach"]

    run_until(sla, lambda: "escalate" in open_elements(sla, case.id))
    assert open_elements(sla, case.id) == ["chase", "escalate"]  # interrupting: handling was cancelled
    assert jobs(sla) == []
    fired = sla.audit_events(type=AuditType.TIMER_FIRED, instance_id=case.id)
    assert [(e.actor, e.data["element_id"]) for e in fired] == [("system", "warn"), ("system", "breach")]


def test_completing_the_task_first_cancels_its_timers(sla: Engine) -> None:
    case = sla.instances.start("sla_timers", {}, DAVE)
    done = sla.tasks.complete(case.open_tasks[0].id, {}, DAVE)
    assert done.state == InstanceState.COMPLETED
    assert jobs(sla) == []
    time.sleep(2.2)
    assert sla.jobs.run_due("late-worker") == 0
    assert sla.audit_events(type=AuditType.TIMER_FIRED) == []


def test_two_workers_fire_each_timer_once(sla: Engine, make_engine, any_db_url: str) -> None:
    cases = [sla.instances.start("sla_timers", {}, DAVE) for _ in range(6)]
    time.sleep(2.2)
    other = make_engine(any_db_url)
    barrier = threading.Barrier(2)

    def work(engine: Engine, name: str) -> None:
        barrier.wait()
        while engine.jobs.run_due(name, limit=2):
            pass

    threads = [threading.Thread(target=work, args=(e, n)) for e, n in ((sla, "w1"), (other, "w2"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run_until(sla, lambda: not jobs(sla))
    fired = sla.audit_events(type=AuditType.TIMER_FIRED)
    assert sorted((e.instance_id, e.data["element_id"]) for e in fired) == sorted(
        (c.id, element) for c in cases for element in ("warn", "breach"))
    with sla.db.reading() as session:
        assert session.execute(select(func.count()).select_from(Job)).scalar_one() == 0


def test_a_failing_job_is_retried_with_backoff_then_becomes_an_incident_and_an_admin_retry_succeeds(
        make_engine, any_db_url: str, monkeypatch) -> None:
    from engine.errors import EngineError

    engine = make_engine(any_db_url, job_max_attempts=3, job_backoff_seconds=0.05)
    # Only the warning may fall due while the failures are injected: a breach that also came due on a
    # slow machine would take some of them and the count of tries would depend on timing.
    bpmn = fixture_files("sla_timers.bpmn")["sla_timers.bpmn"].replace(b'"PT2S"', b'"PT1H"')
    engine.definitions.deploy({"sla_timers.bpmn": bpmn}, OWNER)
    case = engine.instances.start("sla_timers", {}, DAVE)
    time.sleep(1.1)  # the warning is due
    original = engine.runtime.fire_due_timers
    failures = {"left": 3}

    def flaky(workflow):  # a transient fault: the first three tries fail
        if failures["left"]:
            failures["left"] -= 1
            raise EngineError("the mail gateway did not answer", element_id="warn")
        return original(workflow)

    monkeypatch.setattr(engine.runtime, "fire_due_timers", flaky)
    tries = 0
    while failures["left"]:
        tries += engine.jobs.run_due("w") == 0
        time.sleep(0.12)
    assert engine.incidents.list(ADMIN).total == 1  # only after the last try
    (incident,) = engine.incidents.list(ADMIN).items
    assert (incident.instance_id, incident.element_id) == (case.id, "warn")
    time.sleep(0.3)
    assert engine.jobs.run_due("w") == 0  # parked: no more automatic tries
    assert open_elements(engine, case.id) == ["handle"]

    retried = engine.incidents.retry(incident.id, ADMIN)
    assert retried.state == "retried"
    run_until(engine, lambda: "chase" in open_elements(engine, case.id))
    assert [e.type for e in engine.audit_events(instance_id=case.id)
            if e.type in (AuditType.INCIDENT_CREATED, AuditType.INCIDENT_RETRIED, AuditType.TIMER_FIRED)][:3] == [
        "incident_created", "incident_retried", "timer_fired"]


def test_an_incident_from_a_persons_action_has_nothing_to_retry(engine: Engine) -> None:
    from engine.errors import Conflict, ScriptError

    engine.definitions.deploy(fixture_files("failing.bpmn"), OWNER)
    case = engine.instances.start("failing", {}, DAVE)
    with pytest.raises(ScriptError):
        engine.tasks.complete(case.open_tasks[0].id, {"note": "x"}, DAVE)
    with pytest.raises(Conflict, match="simply try again"):
        engine.incidents.retry(engine.incidents.list(ADMIN).items[0].id, ADMIN)


def test_an_intermediate_timer_event_fires(make_engine, any_db_url: str) -> None:
    engine = make_engine(any_db_url)
    bpmn = fixture_files("sla_timers.bpmn")["sla_timers.bpmn"].decode()
    start = bpmn.index('<bpmn:sequenceFlow id="f1"')
    pause = ('<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="pause"/>'
             '<bpmn:intermediateCatchEvent id="pause"><bpmn:timerEventDefinition>'
             '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT1S"</bpmn:timeDuration>'
             '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
             '<bpmn:sequenceFlow id="f1b" sourceRef="pause" targetRef="handle"/>')
    bpmn = bpmn[:start] + pause + bpmn[bpmn.index("/>", start) + 2:]
    engine.definitions.deploy({"sla_timers.bpmn": bpmn.encode()}, OWNER)
    case = engine.instances.start("sla_timers", {}, DAVE)
    assert case.state == InstanceState.WAITING and case.active_element_ids == ["pause"]
    run_until(engine, lambda: open_elements(engine, case.id) == ["handle"])
    assert engine.instances.get(case.id, ADMIN).state == InstanceState.RUNNING


def test_a_suspended_case_holds_its_due_timers_and_resuming_fires_them(engine: Engine) -> None:
    engine.definitions.deploy(fixture_files("sla_timers.bpmn"), OWNER)
    case = engine.instances.start("sla_timers", {}, DAVE)
    engine.instances.suspend(case.id, ADMIN)
    time.sleep(2.2)  # both the warning (PT1S) and the breach (PT2S) are due
    assert engine.jobs.run_due("w") + engine.jobs.run_due("w") == 0  # held, not fired
    held = engine.instances.get(case.id, ADMIN)
    assert held.state == InstanceState.SUSPENDED and [t.element_id for t in held.open_tasks] == ["handle"]
    with engine.db.reading() as session:
        assert session.execute(select(func.max(Job.attempts))).scalar_one() == 0  # holding is no failed try
    engine.instances.resume(case.id, ADMIN)
    assert engine.jobs.run_due("w") >= 1  # due at once, not after the recheck delay
    assert "handle" not in [t.element_id for t in engine.instances.get(case.id, ADMIN).open_tasks]


def test_a_timer_does_not_end_a_suspended_case(engine: Engine) -> None:
    bpmn = fixture_files("slow_after_timer.bpmn")["slow_after_timer.bpmn"].decode().replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="pause" targetRef="crunch"/>',
        '<bpmn:sequenceFlow id="f2" sourceRef="pause" targetRef="end"/>')
    engine.definitions.deploy({"slow_after_timer.bpmn": bpmn.encode()}, OWNER)
    case = engine.instances.start("slow_after_timer", {"rounds": 1}, DAVE)
    engine.instances.suspend(case.id, ADMIN)
    time.sleep(1.2)
    engine.jobs.run_due("w")
    assert engine.instances.get(case.id, ADMIN).state == InstanceState.SUSPENDED
    engine.instances.resume(case.id, ADMIN)
    engine.jobs.run_due("w")
    assert engine.instances.get(case.id, ADMIN).state == InstanceState.COMPLETED
