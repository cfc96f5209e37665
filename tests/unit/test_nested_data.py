"""Nested data (dicts and lists inside task data) changed by a script: stored as it is, whatever the cache holds.

SpiffWorkflow hands data on to the next tasks one level deep, so a nested value is one object shared by
several tasks; a script changing it in place must not change tasks that are already stored.
"""

from __future__ import annotations

from engine.core import Engine
from engine.settings import Settings
from engine.views import Actor, Role
from tests.conftest import OWNER

W = Actor("wendy", groups=frozenset({"workers"}), roles=frozenset({Role.STAFF}))
HEAD = '''<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
 xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d"
 targetNamespace="http://opsflow.test">
'''
BPMN = HEAD + '''  <bpmn:process id="nested" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="u1"/>
    <bpmn:userTask id="u1" name="u1" camunda:candidateGroups="workers"/>
    <bpmn:sequenceFlow id="f2" sourceRef="u1" targetRef="s1"/>
    <bpmn:scriptTask id="s1"><bpmn:script>order["lines"].append("more")
order["meta"]["checked"] = True</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="s1" targetRef="u2"/>
    <bpmn:userTask id="u2" name="u2" camunda:candidateGroups="workers"/>
    <bpmn:sequenceFlow id="f4" sourceRef="u2" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>'''


PAR = HEAD + '''  <bpmn:process id="par" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split"/>
    <bpmn:parallelGateway id="split"/>
    <bpmn:sequenceFlow id="fa" sourceRef="split" targetRef="ua"/>
    <bpmn:sequenceFlow id="fb" sourceRef="split" targetRef="ub1"/>
    <bpmn:userTask id="ua" name="ua" camunda:candidateGroups="workers"/>
    <bpmn:userTask id="ub1" name="ub1" camunda:candidateGroups="workers"/>
    <bpmn:sequenceFlow id="fb2" sourceRef="ub1" targetRef="check"/>
    <bpmn:scriptTask id="check"><bpmn:script>order["meta"]["checked"] = True</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="fb3" sourceRef="check" targetRef="ub2"/>
    <bpmn:userTask id="ub2" name="ub2" camunda:candidateGroups="workers"/>
    <bpmn:sequenceFlow id="ja" sourceRef="ua" targetRef="ga"/>
    <bpmn:exclusiveGateway id="ga" default="g_no"/>
    <bpmn:sequenceFlow id="g_yes" sourceRef="ga" targetRef="saw_checked">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">
        order["meta"]["checked"]</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="g_no" sourceRef="ga" targetRef="saw_unchecked"/>
    <bpmn:userTask id="saw_checked" name="saw_checked" camunda:candidateGroups="workers"/>
    <bpmn:userTask id="saw_unchecked" name="saw_unchecked" camunda:candidateGroups="workers"/>
    <bpmn:sequenceFlow id="ja1" sourceRef="saw_checked" targetRef="join"/>
    <bpmn:sequenceFlow id="ja2" sourceRef="saw_unchecked" targetRef="join"/>
    <bpmn:sequenceFlow id="jb" sourceRef="ub2" targetRef="join"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:sequenceFlow id="f9" sourceRef="join" targetRef="last"/>
    <bpmn:userTask id="last" name="last" camunda:candidateGroups="workers"/>
    <bpmn:sequenceFlow id="f10" sourceRef="last" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>'''


def formless(url: str, *, verify: bool) -> Engine:
    """An engine without forms, so start data is taken as given (verify: every save restored and compared)."""
    engine = Engine(Settings(database_url=url, verify_state_writes=verify), forms=None)
    engine.migrate()
    return engine


def test_a_script_changing_nested_data_in_place_is_stored_as_the_live_case(tmp_path) -> None:
    engine = formless(f"sqlite:///{tmp_path}/nested.db", verify=True)
    engine.definitions.deploy({"nested.bpmn": BPMN.encode()}, OWNER)
    case = engine.instances.start("nested", {"order": {"lines": ["a"], "meta": {"checked": False}}}, W)
    after = engine.tasks.complete(case.open_tasks[0].id, {}, W)
    assert after.data["order"] == {"lines": ["a", "more"], "meta": {"checked": True}}
    engine.close()


def _last_step(url: str, *, restored: bool) -> list[str]:
    engine = formless(url, verify=False)
    engine.definitions.deploy({"par.bpmn": PAR.encode()}, OWNER)
    case = engine.instances.start("par", {"order": {"meta": {"checked": False}}}, W)

    def task(view, element_id: str) -> str:  # type: ignore[no-untyped-def]
        return next(t.id for t in view.open_tasks if t.element_id == element_id)

    view = engine.tasks.complete(task(case, "ub1"), {}, W)  # this branch's script sets checked
    if restored:
        engine.cache.clear()  # as after a restart, an eviction, or a step taken by another process
    view = engine.tasks.complete(task(view, "ua"), {}, W)  # the other branch's gateway reads it
    engine.close()
    return sorted(t.element_id for t in view.open_tasks)


def test_a_parallel_branch_decides_the_same_whether_the_case_was_cached_or_restored(tmp_path) -> None:
    cached = _last_step(f"sqlite:///{tmp_path}/cached.db", restored=False)
    restored = _last_step(f"sqlite:///{tmp_path}/restored.db", restored=True)
    assert cached == restored == ["saw_unchecked", "ub2"]  # the branch's own copy of the data was unchanged
