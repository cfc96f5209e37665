"""Attack payloads in every place a diagram evaluates code, fresh and after a restore.

Each payload is put into a script task, an exclusive-gateway condition, a timer
expression, a DMN input and output cell and a multi-instance cardinality, parsed with
the Camunda parser and run; each must fail with ScriptError carrying the element id,
without creating the marker file and without leaking the secret into task data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG

from engine.errors import ScriptError
from engine.sandbox import SandboxedScriptEngine, script_error_from

SECRET = "s3cr3t-do-not-leak"

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">'
    '<bpmn:process id="p" isExecutable="true">'
)
_TAIL = "</bpmn:process></bpmn:definitions>"


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _linear(middle: str, middle_id: str) -> str:
    return (
        _HEAD
        + '<bpmn:startEvent id="start"/>'
        + '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="'
        + middle_id
        + '"/>'
        + middle
        + '<bpmn:sequenceFlow id="f2" sourceRef="'
        + middle_id
        + '" targetRef="end"/>'
        + '<bpmn:endEvent id="end"/>'
        + _TAIL
    )


def script_bpmn(code: str) -> tuple[str, str | None]:
    task = (
        '<bpmn:scriptTask id="payload_task" scriptFormat="python">'
        f"<bpmn:script>{_xml(code)}</bpmn:script></bpmn:scriptTask>"
    )
    return _linear(task, "payload_task"), None


def gateway_bpmn(expression: str) -> tuple[str, str | None]:
    xml = (
        _HEAD + '<bpmn:startEvent id="start"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="payload_gateway"/>'
        '<bpmn:exclusiveGateway id="payload_gateway" default="f_no"/>'
        '<bpmn:sequenceFlow id="f_yes" sourceRef="payload_gateway" targetRef="end_yes">'
        f"<bpmn:conditionExpression>{_xml(expression)}</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="f_no" sourceRef="payload_gateway" targetRef="end_no"/>'
        '<bpmn:endEvent id="end_yes"/><bpmn:endEvent id="end_no"/>' + _TAIL
    )
    return xml, None


def timer_bpmn(expression: str, kind: str = "timeDuration") -> tuple[str, str | None]:
    event = (
        '<bpmn:intermediateCatchEvent id="payload_timer"><bpmn:timerEventDefinition>'
        f"<bpmn:{kind}>{_xml(expression)}</bpmn:{kind}>"
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )
    return _linear(event, "payload_timer"), None


def dmn_bpmn(
    input_cell: str = '"high"', output_cell: str = '"approve"', input_expression: str = "level"
) -> tuple[str, str | None]:
    task = '<bpmn:businessRuleTask id="payload_rule" camunda:decisionRef="decide"/>'
    dmn = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="dd" name="dd" namespace="t">'
        '<decision id="decide" name="decide"><decisionTable id="table">'
        '<input id="in1" label="level"><inputExpression id="ie1" typeRef="string">'
        f"<text>{_xml(input_expression)}</text></inputExpression></input>"
        '<output id="out1" label="outcome" name="outcome" typeRef="string"/>'
        f'<rule id="r1"><inputEntry id="e1"><text>{_xml(input_cell)}</text></inputEntry>'
        f'<outputEntry id="o1"><text>{_xml(output_cell)}</text></outputEntry></rule>'
        "</decisionTable></decision></definitions>"
    )
    return _linear(task, "payload_rule"), dmn


def mi_bpmn(cardinality: str) -> tuple[str, str | None]:
    task = (
        '<bpmn:task id="payload_mi"><bpmn:multiInstanceLoopCharacteristics camunda:collection="results" '
        'camunda:elementVariable="item">'
        f"<bpmn:loopCardinality>{_xml(cardinality)}</bpmn:loopCardinality>"
        "</bpmn:multiInstanceLoopCharacteristics></bpmn:task>"
    )
    return _linear(task, "payload_mi"), None


Builder = Callable[[str], tuple[str, "str | None"]]

# Where an expression payload can go, with the element id the error must name.
PLACES: dict[str, tuple[Builder, str]] = {
    "script": (lambda e: script_bpmn(f"result = {e}"), "payload_task"),
    "gateway": (gateway_bpmn, "payload_gateway"),
    "timer_duration": (timer_bpmn, "payload_timer"),
    "timer_date": (lambda e: timer_bpmn(e, "timeDate"), "payload_timer"),
    "dmn_input": (lambda e: dmn_bpmn(input_cell=e), "payload_rule"),
    "dmn_output": (lambda e: dmn_bpmn(output_cell=e), "payload_rule"),
    "mi_cardinality": (mi_bpmn, "payload_mi"),
}

# Expression payloads; {marker} and {secret} are paths in tmp_path.
EXPRESSIONS: dict[str, str] = {
    "import_os": "__import__('os').system('touch {marker}')",
    "open_read": "open('{secret}').read()",
    "subclasses_walk": "().__class__.__base__.__subclasses__()",
    "getattr_globals": "getattr(now, '__globals__')",
    "helper_self": "datetime.now.__self__",
    "helper_globals": "now.__globals__['__builtins__']",
    "decimal_module": "Decimal.__module__",
    "timedelta_subclasses": "timedelta.__class__.__subclasses__(timedelta)",
    "json_globals": "json_dumps.__globals__",
    "iso_duration_code": "iso_duration.__code__",
    "parse_date_closure": "parse_date.__globals__['json']",
    "exec_call": "exec('import os')",
    "eval_call": "eval('1')",
    "compile_call": "compile('1', 'x', 'eval')",
    "format_attr": "'{0.__class__}'.format(now())",
    "format_globals": "'{x.__init__.__globals__}'.format(x=now)",
    "format_map_attr": "'{x.__class__.__mro__}'.format_map(dict(x=1))",
    "str_format_unbound": "str.format('{0.__class__}', 1)",
    "generator_frame": "(i for i in []).gi_frame.f_globals",
    "generator_code": "[g.gi_code for g in [(i for i in [])]]",
    "type_call": "type(now)",
    "vars_call": "vars()",
    "globals_call": "globals()",
    "mro_walk": "int.mro()[-1]",
    "fstring_attr": "f'{now.__globals__}'",
}

# Statements only a script task can hold.
SCRIPTS: dict[str, str] = {
    "import_statement": "import os\nos.system('touch {marker}')",
    "from_import": "from os import system\nsystem('touch {marker}')",
    "class_escape": "class X:\n    pass\nleak = X.__base__",
    "bare_except": "try:\n    data = open('{secret}').read()\nexcept:\n    data = None",
    "aliased_builtin": "f = open\nleak = f('{secret}').read()",
    "lambda_frame": "g = (lambda: (yield))()\nleak = g.gi_frame",
    "write_attribute": "now.year = 1",
}


def make_workflow(bpmn: str, dmn: str | None, restored: bool, data: dict[str, object]) -> BpmnWorkflow:
    parser = CamundaParser()
    parser.add_bpmn_str(bpmn.encode())
    if dmn is not None:
        parser.add_dmn_str(dmn.encode())
    spec = parser.get_spec("p")
    subprocesses = parser.get_subprocess_specs("p")
    workflow = BpmnWorkflow(spec, subprocesses, script_engine=SandboxedScriptEngine())
    workflow.data.update(data)
    workflow.get_tasks()[0].data.update(data)
    if restored:
        serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))
        workflow = serializer.deserialize_json(serializer.serialize_json(workflow))
        workflow.script_engine = SandboxedScriptEngine()  # what the host does on every load
    return workflow


def run_expecting_script_error(workflow: BpmnWorkflow) -> ScriptError:
    with pytest.raises(Exception) as caught:
        workflow.do_engine_steps()
        workflow.refresh_timers()
    error = caught.value
    assert isinstance(error, ScriptError), f"{type(error).__name__}: {error}"
    assert script_error_from(error) is error
    return error


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    return {"marker": tmp_path / "marker", "secret": secret}


def _fill(template: str, files: dict[str, Path]) -> str:
    return template.replace("{marker}", str(files["marker"])).replace("{secret}", str(files["secret"]))


def _assert_no_side_effects(workflow: BpmnWorkflow, files: dict[str, Path]) -> None:
    assert not files["marker"].exists()
    dumped = json.dumps([t.data for t in workflow.get_tasks()] + [workflow.data], default=repr)
    assert SECRET not in dumped


@pytest.mark.parametrize("restored", [False, True], ids=["fresh", "restored"])
@pytest.mark.parametrize("place", list(PLACES))
@pytest.mark.parametrize("payload", list(EXPRESSIONS))
def test_expression_payloads_are_refused_everywhere(
    payload: str, place: str, restored: bool, files: dict[str, Path]
) -> None:
    build, element_id = PLACES[place]
    expression = _fill(EXPRESSIONS[payload], files)
    bpmn, dmn = build(expression)
    workflow = make_workflow(bpmn, dmn, restored, {"level": "high"})
    error = run_expecting_script_error(workflow)
    assert error.kind == "forbidden", str(error)
    assert error.element_id == element_id
    assert "not allowed" in error.message
    _assert_no_side_effects(workflow, files)


@pytest.mark.parametrize("restored", [False, True], ids=["fresh", "restored"])
@pytest.mark.parametrize("payload", list(SCRIPTS))
def test_script_payloads_are_refused(payload: str, restored: bool, files: dict[str, Path]) -> None:
    code = _fill(SCRIPTS[payload], files)
    bpmn, dmn = script_bpmn(code)
    workflow = make_workflow(bpmn, dmn, restored, {})
    error = run_expecting_script_error(workflow)
    assert error.kind == "forbidden", str(error)
    assert error.element_id == "payload_task"
    assert error.line is not None and error.line >= 1
    _assert_no_side_effects(workflow, files)


def test_script_error_reports_line_of_failure() -> None:
    bpmn, _ = script_bpmn("a = 1\nb = 2\nc = a / 0\n")
    error = run_expecting_script_error(make_workflow(bpmn, None, False, {}))
    assert (error.kind, error.line, error.element_id) == ("error", 3, "payload_task")
    assert "ZeroDivisionError" in error.message


def test_forbidden_construct_reports_its_line() -> None:
    bpmn, _ = script_bpmn("a = 1\nb = a.__class__\n")
    error = run_expecting_script_error(make_workflow(bpmn, None, True, {}))
    assert (error.kind, error.line) == ("forbidden", 2)
    assert error.message == 'attribute "__class__" is not allowed'
