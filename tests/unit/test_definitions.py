"""Deploying BPMN/DMN bundles: versions, verbatim sources, refusals, preconditions, parse-once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import engine.runtime.compiler as compiler
from engine.core import Engine
from engine.db.models import AuditHead, DefinitionSource, ProcessDefinition
from engine.errors import InvalidModel, NotFound, PermissionDenied, PreconditionFailed
from engine.views import AuditType, InstanceState
from tests.conftest import ADMIN, ALICE, AUDITOR, BOB, CAROL, OWNER, fixture_files

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://opsflow.test">\n'
)


def process_xml(body: str, pid: str = "p", executable: str = "true") -> str:
    """A one-process BPMN document; `body` is placed after a start event, one element per line."""
    return (
        f'{HEAD}  <bpmn:process id="{pid}" isExecutable="{executable}">\n'
        '    <bpmn:startEvent id="start"/>\n'
        f"{body}\n"
        "  </bpmn:process>\n"
        "</bpmn:definitions>\n"
    )


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def stored_counts(engine: Engine) -> tuple[int, int, int, int]:
    """(definitions, sources, audit events per head, head count) straight from the tables."""
    with engine.db.reading() as session:
        definitions = session.execute(select(func.count()).select_from(ProcessDefinition)).scalar_one()
        sources = session.execute(select(func.count()).select_from(DefinitionSource)).scalar_one()
        head = session.get(AuditHead, 1)
        assert head is not None
        return definitions, sources, len(engine.audit_events()), head.count


BUNDLE = ("inbox_triage.bpmn", "dmn_route.bpmn", "dmn_route.dmn")


def test_a_bundle_of_processes_and_a_decision_table_deploys_as_one(engine: Engine) -> None:
    result = engine.definitions.deploy(fixture_files(*BUNDLE), OWNER)
    assert sorted(result.created) == ["dmn_route", "inbox_triage"] and result.unchanged == []
    assert {(d.key, d.version, d.deployed_by) for d in result.definitions} == {
        ("dmn_route", 1, "olivia"), ("inbox_triage", 1, "olivia")}
    assert [d.key for d in engine.definitions.list_latest()] == ["dmn_route", "inbox_triage"]
    # each version keeps exactly the files its process needs
    assert sorted(engine.definitions.sources("dmn_route")) == ["dmn_route.bpmn", "dmn_route.dmn"]
    assert sorted(engine.definitions.sources("inbox_triage")) == ["inbox_triage.bpmn"]
    assert engine.definitions.main_file("dmn_route")[0] == "dmn_route.bpmn"
    assert engine.definitions.get("dmn_route").start_form_key == "dmn_route_start"


def test_redeploying_the_same_content_creates_no_version_and_no_event(engine: Engine) -> None:
    first = engine.definitions.deploy(fixture_files(*BUNDLE), OWNER)
    before = stored_counts(engine)
    again = engine.definitions.deploy(fixture_files(*BUNDLE), ADMIN)
    assert again.created == [] and sorted(again.unchanged) == ["dmn_route", "inbox_triage"]
    assert {d.id for d in again.definitions} == {d.id for d in first.definitions}
    assert stored_counts(engine) == before
    assert [v.version for v in engine.definitions.versions("dmn_route")] == [1]
    assert engine.definitions.get("inbox_triage").deployed_by == "olivia"


def test_changing_one_file_of_a_bundle_bumps_only_the_keys_that_use_it(engine: Engine) -> None:
    files = fixture_files(*BUNDLE)
    engine.definitions.deploy(files, OWNER)
    # a changed decision table is a new version of the process that calls it, and of no other
    files["dmn_route.dmn"] = files["dmn_route.dmn"].replace(b"&lt; 1000", b"&lt; 2000").replace(
        b"&gt;= 1000", b"&gt;= 2000")
    result = engine.definitions.deploy(files, OWNER)
    assert (result.created, result.unchanged) == (["dmn_route"], ["inbox_triage"])
    files["inbox_triage.bpmn"] = files["inbox_triage.bpmn"].replace(b'name="Own work"', b'name="My own work"')
    result = engine.definitions.deploy(files, OWNER)
    assert (result.created, result.unchanged) == (["inbox_triage"], ["dmn_route"])
    assert [v.version for v in engine.definitions.versions("dmn_route")] == [2, 1]
    assert [v.version for v in engine.definitions.versions("inbox_triage")] == [2, 1]
    assert b"2000" in engine.definitions.sources("dmn_route")["dmn_route.dmn"].encode()
    assert b"2000" not in engine.definitions.sources("dmn_route", 1)["dmn_route.dmn"].encode()
    # the new decision table is the one new cases run
    assert engine.instances.start("dmn_route", {"amount": 1500}, ALICE).data["level"] == "team_leads"


def test_sources_are_kept_byte_for_byte(any_db_url: str, make_engine) -> None:
    engine = make_engine(any_db_url)
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\r\n'
        "<!-- 变更申请 / change request: keep this comment -->\r\n"
        '<bpmn:definitions   xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"\r\n'
        '\tid="defs"  targetNamespace="http://opsflow.test" >\r\n'
        '  <bpmn:process id="verbatim" name="原样 &amp; verbatim" isExecutable="true">   \r\n'
        "\t\t<!--   odd   spacing   -->\n"
        '    <bpmn:startEvent id="start"/>\n\n\n'
        '    <bpmn:sequenceFlow id="f" sourceRef="start" targetRef="end"/>'
        '<bpmn:endEvent id="end"/>\n'
        "  </bpmn:process>\n"
        "</bpmn:definitions>\n<!-- trailing -->\n\n"
    )
    raw = text.encode("utf-8")
    engine.definitions.deploy({"verbatim.bpmn": raw}, OWNER)
    fresh = make_engine(any_db_url)  # read back through a new connection, not a cache
    assert fresh.definitions.sources("verbatim")["verbatim.bpmn"].encode("utf-8") == raw
    assert fresh.definitions.main_file("verbatim") == ("verbatim.bpmn", text)
    assert fresh.definitions.get("verbatim").name == "原样 & verbatim"


UNSUPPORTED = [
    ("complexGateway", '    <bpmn:complexGateway id="cg"/>', "cg", "complex gateway"),
    ("compensation boundary event",
     '    <bpmn:task id="t"/>\n    <bpmn:boundaryEvent id="undo_t" attachedToRef="t">'
     '<bpmn:compensateEventDefinition id="ced"/></bpmn:boundaryEvent>', "undo_t", "compensation"),
    ("isForCompensation", '    <bpmn:task id="undo" isForCompensation="true"/>', "undo", "compensation"),
    ("linkEventDefinition",
     '    <bpmn:intermediateThrowEvent id="go_to"><bpmn:linkEventDefinition id="l1" name="L"/>'
     "</bpmn:intermediateThrowEvent>", "go_to", "link event"),
    ("adHocSubProcess", '    <bpmn:adHocSubProcess id="adhoc"><bpmn:task id="inner"/></bpmn:adHocSubProcess>',
     "adhoc", "ad-hoc"),
    ("eventBasedGateway", '    <bpmn:eventBasedGateway id="which_first"/>', "which_first", "event-based gateway"),
]


@pytest.mark.parametrize(("what", "body", "element", "words"), UNSUPPORTED, ids=[u[0] for u in UNSUPPORTED])
def test_elements_the_engine_cannot_run_are_refused_at_deploy(
    engine: Engine, what: str, body: str, element: str, words: str
) -> None:
    xml = process_xml(body)
    with pytest.raises(InvalidModel) as err:
        engine.definitions.deploy({"bad.bpmn": xml}, OWNER)
    problem = next(p for p in err.value.problems if p.element_id == element)
    assert words in problem.message and "not supported" in problem.message
    assert (problem.file_name, problem.line) == ("bad.bpmn", line_of(xml, f'id="{element}"'))
    assert stored_counts(engine) == (0, 0, 0, 0)


def test_xsd_invalid_bpmn_is_refused_with_element_line_and_message(engine: Engine) -> None:
    xml = process_xml('    <bpmn:sequenceFlow id="f" sourceRef="start" targetRef="ut"/>\n'
                      '    <bpmn:userTask id="ut" name="Check" priority="high"/>')
    with pytest.raises(InvalidModel) as err:
        engine.definitions.deploy({"xsd.bpmn": xml}, OWNER)
    (problem,) = err.value.problems
    assert "userTask" in problem.message and "'priority' is not allowed" in problem.message
    assert (problem.file_name, problem.line) == ("xsd.bpmn", line_of(xml, 'id="ut"'))
    assert problem.element_id == "ut"  # the person fixing the diagram needs to know which element


def test_a_document_that_is_not_bpmn_is_refused(engine: Engine) -> None:
    with pytest.raises(InvalidModel) as err:
        engine.definitions.deploy({"notes.xml": b'<?xml version="1.0"?><note><to>ops</to></note>'}, OWNER)
    (problem,) = err.value.problems
    assert problem.file_name == "notes.xml" and "not a BPMN or DMN document" in problem.message
    assert "note" in problem.message


def test_a_bundle_with_only_non_executable_processes_is_refused(engine: Engine) -> None:
    files = {"a.bpmn": process_xml("", pid="draft_a", executable="false")}
    with pytest.raises(InvalidModel) as err:
        engine.definitions.deploy(files, OWNER)
    (problem,) = err.value.problems
    assert problem.element_id == "draft_a" and 'isExecutable="false"' in problem.message
    assert stored_counts(engine) == (0, 0, 0, 0)


def test_a_user_task_naming_a_form_that_does_not_exist_is_refused(engine: Engine) -> None:
    xml = process_xml('    <bpmn:sequenceFlow id="f" sourceRef="start" targetRef="fill"/>\n'
                      '    <bpmn:userTask id="fill" name="Fill in" camunda:formKey="no_such_form"/>')
    with pytest.raises(InvalidModel) as err:
        engine.definitions.deploy({"form.bpmn": xml}, OWNER)
    (problem,) = err.value.problems
    assert problem.element_id == "fill" and "'no_such_form' does not exist" in problem.message


def test_a_failed_deploy_writes_nothing(engine: Engine) -> None:
    good = fixture_files("approval.bpmn")
    with pytest.raises(InvalidModel):
        engine.definitions.deploy({**good, "bad.bpmn": process_xml('    <bpmn:complexGateway id="cg"/>')}, OWNER)
    assert stored_counts(engine) == (0, 0, 0, 0)
    # a refusal inside the transaction (after one key was already written) rolls everything back
    engine.definitions.deploy(fixture_files("loop.bpmn"), OWNER)
    before = stored_counts(engine)
    with pytest.raises(PreconditionFailed):
        engine.definitions.deploy({**good, **fixture_files("loop.bpmn")}, OWNER,
                                  expected_versions={"approval": 0, "loop": 0})
    assert stored_counts(engine) == before
    with pytest.raises(NotFound):
        engine.definitions.get("approval")
    assert engine.verify_audit().ok


@pytest.mark.parametrize("actor", [ALICE, BOB, AUDITOR], ids=lambda a: a.username)
def test_deploy_needs_the_process_owner_or_admin_role(engine: Engine, actor) -> None:
    with pytest.raises(PermissionDenied, match="process_owner"):
        engine.definitions.deploy(fixture_files("approval.bpmn"), actor)
    assert stored_counts(engine) == (0, 0, 0, 0)
    assert engine.definitions.deploy(fixture_files("approval.bpmn"), ADMIN).created == ["approval"]
    assert engine.definitions.deploy(fixture_files("loop.bpmn"), OWNER).created == ["loop"]


def test_expected_versions_refuses_a_deploy_over_someone_elses(engine: Engine) -> None:
    files = fixture_files("loop.bpmn")
    engine.definitions.deploy(files, OWNER, expected_versions={"loop": 0})  # new key: version 0 expected
    opened = engine.definitions.get("loop").version
    theirs = {"loop.bpmn": files["loop.bpmn"].replace(b'name="Work"', b'name="Their work"')}
    engine.definitions.deploy(theirs, ADMIN, expected_versions={"loop": opened})
    mine = {"loop.bpmn": files["loop.bpmn"].replace(b'name="Work"', b'name="My work"')}
    with pytest.raises(PreconditionFailed, match="loop is at version 2, not 1"):
        engine.definitions.deploy(mine, OWNER, expected_versions={"loop": opened})
    assert [v.version for v in engine.definitions.versions("loop")] == [2, 1]
    assert "Their work" in engine.definitions.sources("loop")["loop.bpmn"]
    result = engine.definitions.deploy(mine, OWNER, expected_versions={"loop": 2})
    assert result.definitions[0].version == 3


def test_a_definition_is_parsed_once_per_process_not_per_case_or_step(make_engine, monkeypatch) -> None:
    deployer = make_engine()
    deployer.definitions.deploy(fixture_files("approval.bpmn", "loop.bpmn"), OWNER)
    parsed: list[str | None] = []
    real_compile, real_build = compiler.compile_bundle, compiler.build_parser
    builds: list[int] = []

    def counting_compile(sources, only=None):
        parsed.append(only)
        return real_compile(sources, only)

    def counting_build(sources):
        builds.append(1)
        return real_build(sources)

    monkeypatch.setattr(compiler, "compile_bundle", counting_compile)
    monkeypatch.setattr(compiler, "build_parser", counting_build)

    # the deploying engine already holds the specs it compiled
    deployer.instances.start("loop", {"limit": 1}, ALICE)
    assert parsed == [] and builds == []

    # a restarted process (empty caches, no live workflows kept) parses each process once
    fresh = make_engine(workflow_cache_size=0, verify_state_writes=False)
    for n in range(4):
        loop = fresh.instances.start("loop", {"limit": 3}, ALICE)
        while loop.open_tasks:
            loop = fresh.tasks.complete(loop.open_tasks[0].id, {}, CAROL)
        assert loop.state == InstanceState.COMPLETED
        case = fresh.instances.start("approval", {"title": f"Case {n}", "amount": n}, ALICE)
        fresh.tasks.complete(case.open_tasks[0].id, {"decision": "reject"}, BOB)
    assert sorted(parsed, key=str) == ["approval", "loop"]
    assert len(builds) == 2


def test_versions_lists_every_version_with_its_case_count(engine: Engine) -> None:
    files = fixture_files("loop.bpmn")
    engine.definitions.deploy(files, OWNER)
    for _ in range(2):
        engine.instances.start("loop", {"limit": 1}, ALICE)
    engine.definitions.deploy({"loop.bpmn": files["loop.bpmn"].replace(b'name="Work"', b'name="Work v2"')}, OWNER)
    case = engine.instances.start("loop", {"limit": 1}, ALICE)
    assert case.version == 2
    versions = engine.definitions.versions("loop")
    assert [(v.version, v.instance_count) for v in versions] == [(2, 1), (1, 2)]
    assert versions[0].content_hash != versions[1].content_hash
    engine.definitions.deploy(fixture_files("approval.bpmn"), OWNER)
    assert [(v.version, v.instance_count) for v in engine.definitions.versions("approval")] == [(1, 0)]
    with pytest.raises(NotFound):
        engine.definitions.versions("nope")


def test_the_deployed_event_carries_version_and_content_hash(engine: Engine) -> None:
    files = fixture_files("loop.bpmn")
    engine.definitions.deploy(files, OWNER)
    engine.definitions.deploy({"loop.bpmn": files["loop.bpmn"] + b"\n"}, ADMIN)
    events = engine.audit_events(type=AuditType.DEFINITION_DEPLOYED)
    versions = {v.version: v for v in engine.definitions.versions("loop")}
    assert [(e.actor, e.data["version"]) for e in events] == [("olivia", 1), ("adam", 2)]
    for event in events:
        definition = versions[event.data["version"]]
        assert (event.definition_id, event.process_key) == (definition.id, "loop")
        assert event.data["content_hash"] == definition.content_hash and len(definition.content_hash) == 64
        assert event.data["files"] == ["loop.bpmn"]
        assert event.instance_id is None and event.task_id is None


def test_a_business_rule_task_runs_the_decision_table_of_its_bundle(engine: Engine) -> None:
    engine.definitions.deploy(fixture_files("dmn_route.bpmn", "dmn_route.dmn"), OWNER)
    small = engine.instances.start("dmn_route", {"amount": 999.5}, ALICE)
    large = engine.instances.start("dmn_route", {"amount": 1000}, ALICE)
    assert (small.data["level"], small.data["signatures"]) == ("team_leads", 1)
    assert (large.data["level"], large.data["signatures"]) == ("directors", 2)
    assert "decide_level" in large.completed_element_ids
    (task,) = large.open_tasks
    assert task.candidate_groups == ["directors"]  # the decision's output drives the assignment
    director = ALICE.__class__("dina", groups=frozenset({"directors"}))
    assert engine.tasks.complete(task.id, {}, director).state == InstanceState.COMPLETED


def test_a_business_rule_task_without_its_decision_table_is_refused(engine: Engine) -> None:
    with pytest.raises(InvalidModel) as err:
        engine.definitions.deploy(fixture_files("dmn_route.bpmn"), OWNER)
    assert any("route_level" in p.message for p in err.value.problems)
    assert stored_counts(engine) == (0, 0, 0, 0)


def test_a_business_rule_task_naming_no_decision_is_refused_at_its_element(engine: Engine) -> None:
    # SpiffWorkflow's parser raises a bare KeyError on this (drawn by other tools, e.g. the MIWG corpus).
    xml = process_xml('<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="decide"/>'
                      '<bpmn:businessRuleTask id="decide" name="Decide"/>'
                      '<bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="e"/><bpmn:endEvent id="e"/>')
    for attempt in (engine.definitions.validate, lambda files: engine.definitions.deploy(files, OWNER)):
        with pytest.raises(InvalidModel) as err:
            attempt({"p.bpmn": xml})
        (problem,) = err.value.problems
        assert problem.element_id == "decide" and "camunda:decisionRef" in problem.message
    assert stored_counts(engine) == (0, 0, 0, 0)


def test_validate_compiles_without_deploying(engine: Engine) -> None:
    assert sorted(engine.definitions.validate(fixture_files(*BUNDLE))) == ["dmn_route", "inbox_triage"]
    assert stored_counts(engine) == (0, 0, 0, 0)
