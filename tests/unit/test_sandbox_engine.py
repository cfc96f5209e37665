"""The sandbox and hardened XML as the engine's services use them (issue: diagrams cannot harm the server)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from engine.db.models import Incident, ProcessInstance
from engine.errors import EngineError, InvalidModel, ScriptError, TooLarge
from engine.views import InstanceState
from tests.conftest import ADMIN, DAVE, OWNER, fixture_files

GATEWAY_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="guarded" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first"/>
    <bpmn:userTask id="first" name="First" camunda:candidateGroups="workers" camunda:formKey="loop_work"/>
    <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" default="f4"/>
    <bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="end"><bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="gw" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""

SCRIPT_BPMN = GATEWAY_BPMN.replace(
    '<bpmn:exclusiveGateway id="gw" default="f4"/>',
    '<bpmn:scriptTask id="gw" name="Compute"><bpmn:script>{condition}</bpmn:script></bpmn:scriptTask>',
).replace('<bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="end"><bpmn:conditionExpression>{condition}'
          '</bpmn:conditionExpression></bpmn:sequenceFlow>', "")


def _xml_escape(code: str) -> str:
    return code.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


PAYLOADS = [
    "__import__('os').system('touch {marker}')",
    "open('{marker}', 'w').write('x')",
    "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0]('touch {marker}')",
    "getattr(note, '__globals__')",
    "now.__globals__['__builtins__']['open']('{marker}', 'w')",
    "exec(\"open('{marker}', 'w')\")",
    "'{{0.__class__.__mro__}}'.format(note)",
    "(x for x in []).gi_frame.f_globals",
]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("where", ["gateway", "script"])
def test_payloads_fail_safely_on_a_restored_case(make_engine, tmp_path: Path, payload: str, where: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "pwned"
    code = payload.format(marker=marker)
    template = GATEWAY_BPMN if where == "gateway" else SCRIPT_BPMN
    bpmn = template.replace("{condition}", _xml_escape(code))
    first = make_engine()
    # As if deployed before the deploy-time check of code existed: the run-time sandbox must hold on its own.
    monkeypatch.setattr("engine.definitions.code_problems", lambda spec, subprocess_specs: [])
    first.definitions.deploy({"guarded.bpmn": bpmn.encode()}, OWNER)
    monkeypatch.undo()
    case = first.instances.start("guarded", {}, DAVE)
    restored = make_engine()  # a second process: restores the case from the database
    with pytest.raises(ScriptError) as err:
        restored.tasks.complete(case.open_tasks[0].id, {"note": "hello"}, DAVE)
    assert err.value.element_id == "gw"
    assert err.value.kind in ("forbidden", "error")
    assert not marker.exists()
    view = restored.instances.get(case.id, ADMIN)
    assert view.state == InstanceState.RUNNING and view.open_tasks[0].element_id == "first"
    assert "__" not in json.dumps(view.data)


@pytest.mark.parametrize(("where", "code", "says"), [
    ("gateway", 'x == = "a"', "the condition of the flow to end cannot run: syntax error"),
    ("gateway", '${decision == "approve"', "the condition of the flow to end cannot run: syntax error"),
    ("script", "total_amount = 1\ntotal_amount = = 2", "the script (line 2) cannot run: syntax error"),
    ("script", "import os", "the script (line 1) cannot run:"),
    ("gateway", "().__class__", "the condition of the flow to end cannot run:"),
    ("gateway", "${!approved}", "the condition of the flow to end cannot run: syntax error: invalid syntax "
                                "(expressions are Python: write not, and, or instead of !, &&, ||)"),
])
def test_code_that_cannot_run_is_refused_at_deploy_with_its_element(engine, where: str, code: str, says: str) -> None:
    bpmn = (GATEWAY_BPMN if where == "gateway" else SCRIPT_BPMN).replace("{condition}", _xml_escape(code))
    for check in (engine.definitions.validate, lambda files: engine.definitions.deploy(files, OWNER)):
        with pytest.raises(InvalidModel) as err:
            check({"guarded.bpmn": bpmn.encode()})
        (problem,) = err.value.problems
        assert problem.element_id == "gw" and problem.message.startswith(says), problem.message
        # said again in the editor's language from these (api/web/refusals.py)
        assert problem.reason == ("condition_cannot_run" if where == "gateway" else "script_cannot_run_line")
        assert problem.params.get("line") == (None if where == "gateway" else code.count("\n") + 1)
        assert problem.params is not None and problem.params["detail"] in problem.message
        assert problem.params["juel"] == ("!approved" in code)
        assert problem.params["target"] == ("end" if where == "gateway" else None)
    assert engine.definitions.list_latest() == []  # nothing was deployed


def test_code_the_sandbox_compiles_deploys(engine) -> None:
    for bpmn in (GATEWAY_BPMN.replace("{condition}", '${note == "a"}'),
                 SCRIPT_BPMN.replace("{condition}", "total = 1\nfor i in range(3):\n    total = total + i")):
        assert engine.definitions.validate({"guarded.bpmn": bpmn.encode()}) == ["guarded"]


def test_runaway_script_becomes_an_incident_within_the_limit_and_the_engine_keeps_working(make_engine) -> None:
    engine = make_engine(script_cpu_seconds=0.5)
    engine.definitions.deploy({"guarded.bpmn": SCRIPT_BPMN.replace("{condition}", "while True: pass").encode()}, OWNER)
    case = engine.instances.start("guarded", {}, DAVE)
    started = time.monotonic()
    with pytest.raises(ScriptError) as err:
        engine.tasks.complete(case.open_tasks[0].id, {"note": "x"}, DAVE)
    assert time.monotonic() - started < 3.0
    assert err.value.kind == "timeout"
    with engine.db.reading() as session:
        incident = session.execute(select(Incident).where(Incident.instance_id == case.id)).scalar_one()
    assert incident.error_type == "script_timeout" and incident.element_id == "gw"
    # the same engine still serves other cases
    engine.definitions.deploy(fixture_files("approval.bpmn"), OWNER)
    other = engine.instances.start("approval", {"title": "Still fine", "amount": 1}, DAVE)
    assert other.state == InstanceState.RUNNING


def test_a_state_claiming_an_old_serializer_version_is_refused(make_engine, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    engine = make_engine()
    engine.definitions.deploy(fixture_files("approval.bpmn"), OWNER)
    case = engine.instances.start("approval", {"title": "Old state", "amount": 1}, DAVE)
    with engine.db.transaction() as session:
        header = json.loads(session.execute(
            select(ProcessInstance.engine_header).where(ProcessInstance.id == case.id)).scalar_one())
        header["version"] = "1.1"  # SpiffWorkflow's 1.1 migration evaluates timer expressions
        header["top"]["data"]["timer"] = f"__import__('os').system('touch {marker}')"
        session.execute(text("UPDATE process_instance SET engine_header = :h, version = version + 1 WHERE id = :id"),
                        {"h": json.dumps(header), "id": case.id})
    fresh = make_engine()
    reviewer = DAVE.__class__("rita", groups=frozenset({"reviewers"}))
    with pytest.raises(EngineError, match=r"refusing to load case state in format '1\.1'"):
        fresh.tasks.complete(case.open_tasks[0].id, {"decision": "approve"}, reviewer)
    assert not marker.exists()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><x>&lol4;</x></bpmn:definitions>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><x>&xxe;</x></bpmn:definitions>"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_xml_bombs_are_refused_at_deploy_quickly_and_deploy_nothing(engine, document: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidModel) as err:
        engine.definitions.deploy({"evil.bpmn": document}, OWNER)
    assert time.monotonic() - started < 1.0
    assert "DOCTYPE" in err.value.problems[0].message
    assert engine.definitions.list_latest() == []
    assert engine.audit_events() == []


def test_oversized_upload_is_refused_with_a_clear_error(make_engine) -> None:
    engine = make_engine(max_upload_bytes=10_000)
    big = fixture_files("approval.bpmn")["approval.bpmn"].replace(b"</bpmn:definitions>",
                                                                  b"<!--" + b"x" * 20_000 + b"--></bpmn:definitions>")
    with pytest.raises(TooLarge, match="limit is 10000"):
        engine.definitions.deploy({"approval.bpmn": big}, OWNER)
