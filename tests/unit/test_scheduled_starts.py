"""Timer start events start a case per occurrence: cycles, dates and durations."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.core import Engine
from engine.db.models import Job
from engine.errors import InvalidModel
from engine.views import AuditType, InstanceState
from tests.conftest import ADMIN, DAVE, OWNER, fixture_files

PROCESSES = Path(__file__).resolve().parents[2] / "processes"


def start_jobs(engine: Engine) -> list[Job]:
    with engine.db.reading() as session:
        return list(session.execute(select(Job).where(Job.kind == "start")).scalars())


def test_a_cycle_starts_one_case_per_occurrence_then_stops(any_db_url: str, make_engine) -> None:
    engine = make_engine(any_db_url)
    engine.definitions.deploy(fixture_files("scheduled.bpmn"), OWNER)
    (job,) = start_jobs(engine)
    assert job.task_id == "start:scheduled" and job.payload == {"kind": "cycle", "cycles": 2, "period": 1.0}
    deadline = time.monotonic() + 15
    while start_jobs(engine):
        assert time.monotonic() < deadline, "the schedule did not run out"
        engine.jobs.run_due("w")
        time.sleep(0.1)
    cases = engine.instances.list(ADMIN, key="scheduled").items
    assert len(cases) == 3
    for case in cases:
        assert case.started_by == "system" and case.state == InstanceState.RUNNING
        assert [t.element_id for t in case.open_tasks] == ["check"]
        done = engine.tasks.complete(case.open_tasks[0].id, {}, DAVE)
        assert done.state == InstanceState.COMPLETED  # each occurrence is its own, finishing case
    fired = engine.audit_events(type=AuditType.TIMER_FIRED)
    assert len(fired) == 3 and {e.data["element_id"] for e in fired} == {"every_second"}


def test_a_date_starts_once_and_a_new_version_replaces_the_schedule(engine: Engine) -> None:
    bpmn = fixture_files("scheduled.bpmn")["scheduled.bpmn"].decode()
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    dated = bpmn.replace("<bpmn:timeCycle xsi:type=\"bpmn:tFormalExpression\">R3/PT1S</bpmn:timeCycle>",
                         f"<bpmn:timeDate xsi:type=\"bpmn:tFormalExpression\">\"{past}\"</bpmn:timeDate>")
    engine.definitions.deploy({"scheduled.bpmn": bpmn.encode()}, OWNER)
    engine.definitions.deploy({"scheduled.bpmn": dated.encode()}, OWNER)  # v2: a single date
    (job,) = start_jobs(engine)
    assert job.payload["kind"] == "date"
    assert engine.jobs.run_due("w") == 1
    assert start_jobs(engine) == []
    assert engine.instances.list(ADMIN, key="scheduled").total == 1
    assert engine.jobs.run_due("w") == 0


def test_an_unparseable_start_timer_is_refused_at_deploy(engine: Engine) -> None:
    bpmn = fixture_files("scheduled.bpmn")["scheduled.bpmn"].decode().replace("R3/PT1S", "every tuesday")
    with pytest.raises(InvalidModel) as err:
        engine.definitions.deploy({"scheduled.bpmn": bpmn.encode()}, OWNER)
    assert err.value.problems[0].element_id == "every_second"
    assert engine.definitions.list_latest() == []


def test_the_quarterly_drill_is_scheduled_about_three_months_ahead(make_engine) -> None:
    engine = make_engine(forms_dir=str(PROCESSES.parent / "forms"))
    files = {p.name: p.read_bytes() for p in PROCESSES.iterdir() if p.suffix in (".bpmn", ".dmn")}
    engine.definitions.deploy(files, OWNER)
    (job,) = start_jobs(engine)
    assert job.task_id == "start:emergency_drill" and job.payload["cycles"] == -1
    assert timedelta(days=88) < job.due_at - datetime.now(UTC) < timedelta(days=93)


def test_a_failing_scheduled_start_is_one_incident_and_an_admin_can_retry_it(make_engine) -> None:
    engine = make_engine(job_max_attempts=1)
    bpmn = fixture_files("scheduled.bpmn")["scheduled.bpmn"].decode().replace(
        'camunda:candidateGroups="workers"', 'camunda:assignee="${nobody_defined}"')
    engine.definitions.deploy({"scheduled.bpmn": bpmn.encode()}, OWNER)
    time.sleep(1.1)
    assert engine.jobs.run_due("w") == 0  # the start fails on its only try
    (incident,) = engine.incidents.list(ADMIN).items  # one, not one per try plus one for the job
    assert incident.process_key == "scheduled" and incident.instance_id is None
    assert engine.incidents.retry(incident.id, ADMIN).state == "retried"
    with engine.db.reading() as session:
        attempts, locked_until = session.execute(select(Job.attempts, Job.locked_until)).one()
    assert attempts == 0 and locked_until is None  # queued again, no longer parked
