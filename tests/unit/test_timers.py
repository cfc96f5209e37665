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
