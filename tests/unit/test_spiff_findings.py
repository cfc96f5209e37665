"""SpiffWorkflow's own findings get a reason and params (engine/runtime/findings.py), from real documents that
SpiffWorkflow 3.2 and the BPMN schema refuse, so the pages can say each in the reader's language."""

from __future__ import annotations

import pytest

from engine.core import Engine
from engine.errors import InvalidModel
from engine.runtime.findings import REASONS, classify
from tests.unit.test_definitions import HEAD, process_xml


def one(body: str) -> dict[str, str]:
    """A bundle of one process whose `body` follows its start event."""
    return {"a.bpmn": process_xml(body)}


def reached(target: str, element: str) -> dict[str, str]:
    """A bundle of one process whose start event flows to `element` (id `target`)."""
    return one(f'<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="{target}"/>{element}')


GATEWAY_WITHOUT_CONDITIONS = (
    '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gw"/><bpmn:exclusiveGateway id="gw"/>'
    '<bpmn:sequenceFlow id="f1" sourceRef="gw" targetRef="e1"/><bpmn:sequenceFlow id="f2" sourceRef="gw" '
    'targetRef="e2"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>'
)
NO_START = f'{HEAD}<bpmn:process id="p" isExecutable="true"><bpmn:userTask id="ut"/></bpmn:process></bpmn:definitions>'
CASES = [  # (name, files, reason, params (None: checked by keys), element id (None: not checked))
    ("attribute not allowed", one('<bpmn:userTask id="ut" priority="high"/>'),
     "xsd_attribute_not_allowed", {"element": "userTask", "attribute": "priority"}, "ut"),
    ("unexpected element", one('<bpmn:userTask id="ut"><bpmn:startEvent id="x"/></bpmn:userTask>'),
     "xsd_unexpected_element", {"element": "startEvent"}, "ut"),
    ("attribute missing", one('<bpmn:sequenceFlow id="f" sourceRef="start"/>'),
     "xsd_attribute_missing", {"element": "sequenceFlow", "attribute": "targetRef"}, "f"),
    ("invalid id", one('<bpmn:userTask id="1ut"/>'),
     "xsd_invalid_value", {"element": "userTask", "attribute": "id", "value": "1ut", "type": "xs:ID"}, "1ut"),
    # libxml2 words a duplicate the same way as a malformed id: a well-formed one is taken as already used
    ("duplicate id", one('<bpmn:userTask id="t"/>\n<bpmn:endEvent id="t"/>'), "xsd_duplicate_id", {"value": "t"}, None),
    ("invalid attribute value", one('<bpmn:exclusiveGateway id="g" gatewayDirection="Foo"/>'),
     "xsd_invalid_attribute", None, "g"),
    ("flow to nowhere", one('<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="nope"/>'),
     "flow_target_missing", {"target": "nope"}, None),
    ("missing child", reached("t", '<bpmn:intermediateCatchEvent id="t"><bpmn:conditionalEventDefinition/>'
                                   "</bpmn:intermediateCatchEvent>"),
     "xsd_missing_child", {"element": "conditionalEventDefinition"}, None),
    ("no start event", {"a.bpmn": NO_START}, "no_start_event", {}, "p"),
    ("gateway flows without conditions", one(GATEWAY_WITHOUT_CONDITIONS), "flow_without_condition", {}, "f1"),
    ("duplicate process", {**one('<bpmn:endEvent id="e"/>'), "b.bpmn": process_xml('<bpmn:endEvent id="e"/>')},
     "duplicate_process", {"process": "p"}, "p"),
    ("called process missing", reached("c", '<bpmn:callActivity id="c" calledElement="nope"/>'),
     "called_process_missing", {"process": "nope", "known": "p"}, "c"),
    ("script missing", reached("s", '<bpmn:scriptTask id="s"/>'), "script_missing", {}, "s"),
    ("multi-instance unspecified",
     reached("ut", '<bpmn:userTask id="ut"><bpmn:multiInstanceLoopCharacteristics/></bpmn:userTask>'),
     "multi_instance_unspecified", {}, "ut"),
    ("loop unspecified", reached("ut", '<bpmn:userTask id="ut"><bpmn:standardLoopCharacteristics/></bpmn:userTask>'),
     "loop_unspecified", {}, "ut"),
    ("timer without time",
     reached("t", '<bpmn:intermediateCatchEvent id="t"><bpmn:timerEventDefinition/></bpmn:intermediateCatchEvent>'),
     "timer_spec_invalid", {}, "t"),
    ("message not defined", reached("t", '<bpmn:intermediateCatchEvent id="t"><bpmn:messageEventDefinition '
                                         'messageRef="m"/></bpmn:intermediateCatchEvent>'),
     "reference_unresolved", {}, "t"),
    ("error not defined", reached("t", '<bpmn:endEvent id="t"><bpmn:errorEventDefinition errorRef="nope"/>'
                                       "</bpmn:endEvent>"),
     "event_ref_missing", {}, "t"),
    ("subprocess without start", reached("sp", '<bpmn:subProcess id="sp"><bpmn:endEvent id="se"/></bpmn:subProcess>'),
     "subprocess_start_events", {"count": 0}, "sp"),
    ("subprocess without end", reached("sp", '<bpmn:subProcess id="sp"><bpmn:startEvent id="ss"/></bpmn:subProcess>'),
     "subprocess_no_end", {}, "sp"),
]


@pytest.mark.parametrize(("files", "reason", "params", "element_id"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_spiffworkflows_findings_on_real_documents_get_their_reason_and_params(
        engine: Engine, files: dict[str, str], reason: str, params: dict[str, object] | None,
        element_id: str | None) -> None:
    with pytest.raises(InvalidModel) as err:
        engine.definitions.validate(files)
    problem = err.value.problems[0]
    assert problem.reason == reason, problem.message
    if params is not None:
        assert problem.params == params, problem.message
    else:  # the rest of libxml2's words are kept as the detail
        assert {"element", "attribute", "detail"} <= set(problem.params or {}), problem.params
    if element_id is not None:
        assert problem.element_id == element_id
    assert problem.message  # the library's own words stay, for the API's detail and the logs


def test_the_catalog_knows_each_reason_once_and_leaves_unknown_findings_unnamed() -> None:
    assert classify("Something SpiffWorkflow 3.3 may say") == (None, None)
    assert classify("Duplicate process ID: change_request ") == ("duplicate_process", {"process": "change_request"})
    assert classify("When looking for a task spec, we found two items, perhaps a form has the same ID? (Task_1)") == (
        "flow_target_missing", {"target": "Task_1"})
    assert classify("Message identifier is missing from bpmn xml") == ("definition_id_missing", {"kind": "Message"})
    # the schema's catch-all keeps the rest of libxml2's words as the detail
    schema_says = "Element '{http://www.omg.org/spec/BPMN/20100524/MODEL}task': No match found for key-sequence."
    assert classify(schema_says) == ("xsd_invalid", {"element": "task", "detail": "No match found for key-sequence."})
    assert {reason for _, reason in [c[1:3] for c in CASES]} <= REASONS
