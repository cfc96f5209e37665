"""Task start/end scripts (inline camunda:executionListener) and when a boundary timer is evaluated.

The rule: a boundary timer is computed from the case data as it stood when the task was reached, before
the task's own start script runs (that script's changes are the task's own; they do not reach the boundary
events). A deadline that needs computing belongs in a script task before the user task.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.core import Engine
from engine.db.models import Job
from engine.errors import InvalidModel
from tests.conftest import ADMIN, DAVE, OWNER

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    id="d" targetNamespace="t">
  <bpmn:process id="scripted" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="plan"/>
    <bpmn:scriptTask id="plan"><bpmn:script>sla = "PT30M"</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f1" sourceRef="plan" targetRef="handle"/>
    <bpmn:userTask id="handle" name="Handle" camunda:candidateGroups="workers" camunda:formKey="loop_work">
      <bpmn:extensionElements>
        {listeners}
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="deadline" attachedToRef="handle" cancelActivity="true">
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">sla</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="end"/>
    <bpmn:sequenceFlow id="f3" sourceRef="deadline" targetRef="late"/>
    <bpmn:endEvent id="end"/>
    <bpmn:endEvent id="late"/>
  </bpmn:process>
</bpmn:definitions>"""

SCRIPTS = """<camunda:executionListener event="start"><camunda:script scriptFormat="python">sla = "PT1S"
opened = True</camunda:script></camunda:executionListener>
<camunda:executionListener event="end"><camunda:script scriptFormat="python">closed_note = note.upper()</camunda:script></camunda:executionListener>"""


def deploy(engine: Engine, listeners: str) -> None:
    engine.definitions.deploy({"scripted.bpmn": BPMN.replace("{listeners}", listeners).encode()}, OWNER)


def test_start_script_runs_after_the_boundary_timer_was_computed_and_end_script_on_completion(engine: Engine) -> None:
    deploy(engine, SCRIPTS)
    before = datetime.now(UTC)
    case = engine.instances.start("scripted", {}, DAVE)
    assert case.data["opened"] is True and case.data["sla"] == "PT1S"  # the start script ran
    with engine.db.reading() as session:
        due = session.execute(select(Job.due_at).where(Job.element_id == "deadline")).scalar_one()
    # ... but the timer was computed from sla as it was when the task was reached: 30 minutes, not 1 second
    assert before + timedelta(minutes=29) < due < datetime.now(UTC) + timedelta(minutes=31)
    done = engine.tasks.complete(case.open_tasks[0].id, {"note": "fixed"}, DAVE)
    assert done.data["closed_note"] == "FIXED"  # the end script ran on completion
    assert "end" in done.completed_element_ids


def test_a_failing_start_script_is_a_script_error_with_the_task_id(engine: Engine) -> None:
    from engine.errors import ScriptError

    deploy(engine, '<camunda:executionListener event="start"><camunda:script scriptFormat="python">'
                   'x = 1 / 0</camunda:script></camunda:executionListener>')
    with pytest.raises(ScriptError) as err:
        engine.instances.start("scripted", {}, DAVE)
    assert err.value.element_id == "handle"
    assert engine.instances.list(ADMIN).total == 0


def test_java_listeners_are_refused_at_deploy(engine: Engine) -> None:
    with pytest.raises(InvalidModel) as err:
        deploy(engine, '<camunda:executionListener event="start" class="com.example.Audit"/>')
    assert err.value.problems[0].element_id == "handle"
    assert "inline-script" in err.value.problems[0].message
