"""Errors SpiffWorkflow raises outside its own exception classes are failures of the step like any other:
rolled back, recorded as an incident, and never the end of the worker that runs every case's timers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from engine.core import Engine
from engine.errors import EngineError
from engine.jobs import Worker
from engine.settings import Settings
from engine.views import Actor, Role
from tests.conftest import ADMIN, OWNER

W = Actor("wendy", groups=frozenset({"workers"}), roles=frozenset({Role.STAFF}))
# SpiffWorkflow raises a bare Exception("Invalid duration") for a duration it cannot read.
BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    id="d" targetNamespace="http://opsflow.test">
  <bpmn:process id="waits" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="{first}"/>
    {before}
    <bpmn:userTask id="ask" name="ask" camunda:candidateGroups="workers"/>
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="pause"/>
    <bpmn:intermediateCatchEvent id="pause"><bpmn:timerEventDefinition>
      <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">wait</bpmn:timeDuration>
    </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="pause" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""
DIRECT = BPMN.replace("{first}", "ask").replace("{before}", "")
AFTER_A_TIMER = BPMN.replace("{first}", "first").replace("{before}", """
    <bpmn:intermediateCatchEvent id="first"><bpmn:timerEventDefinition>
      <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT1H"</bpmn:timeDuration>
    </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f1b" sourceRef="first" targetRef="ask"/>""")


def formless(url: str, bpmn: str) -> Engine:
    engine = Engine(Settings(database_url=url, job_lease_seconds=0.2), forms=None)
    engine.migrate()
    engine.definitions.deploy({"waits.bpmn": bpmn.encode()}, OWNER)
    return engine


def incidents(engine: Engine) -> list[tuple[str, str]]:
    with engine.db.reading() as session:
        return [tuple(r) for r in session.execute(text("SELECT error_type, element_id FROM incident")).all()]


def test_a_library_error_on_completing_is_an_incident_and_changes_nothing(tmp_path) -> None:
    engine = formless(f"sqlite:///{tmp_path}/direct.db", DIRECT)
    case = engine.instances.start("waits", {}, W)
    with pytest.raises(EngineError, match="Invalid duration"):
        engine.tasks.complete(case.open_tasks[0].id, {"wait": "two hours"}, W)
    assert incidents(engine) == [("EngineError", "ask")]  # the step that failed (the error names no element)
    after = engine.instances.get(case.id, ADMIN)
    assert after.row_version == case.row_version and [t.element_id for t in after.open_tasks] == ["ask"]
    engine.close()


def test_a_library_error_in_a_timer_job_fails_the_job_and_the_worker_goes_on(tmp_path) -> None:
    engine = formless(f"sqlite:///{tmp_path}/timer.db", AFTER_A_TIMER.replace(
        '<bpmn:userTask id="ask" name="ask" camunda:candidateGroups="workers"/>',
        '<bpmn:scriptTask id="ask"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>'))
    case = engine.instances.start("waits", {"wait": "two hours"}, ADMIN)
    engine.jobs.reschedule(case.id, "first", datetime.now(UTC) - timedelta(seconds=1), ADMIN)
    worker = Worker(engine.jobs, "w1", poll_seconds=0.05)
    died: list[BaseException] = []

    def run() -> None:
        try:
            worker.run()
        except BaseException as exc:  # what the test looks for
            died.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(1.5)
    alive = thread.is_alive()
    worker.stop()
    thread.join(2)
    assert alive and not died
    with engine.db.reading() as session:
        attempts, error = session.execute(text("SELECT attempts, last_error FROM job")).one()
    assert attempts >= 1 and "Invalid duration" in error  # counted, retried, parked with an incident at the end
    engine.close()
