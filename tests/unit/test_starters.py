"""Who may start a process: Camunda's candidateStarterGroups / candidateStarterUsers, enforced by the engine."""

from __future__ import annotations

import pytest

from engine.core import Engine
from engine.errors import NotFound, PermissionDenied
from engine.views import Actor, InstanceState, Role
from tests.conftest import OWNER
from tests.unit.test_definitions import HEAD

ADMIN = Actor("adam", roles=frozenset({Role.ADMIN}))
DESK = Actor("dora", groups=frozenset({"desk"}), roles=frozenset({Role.STAFF}))
STORE = Actor("sam", groups=frozenset({"store"}), roles=frozenset({Role.STAFF}))
GUEST = Actor("gus", roles=frozenset({Role.STAFF}))


def bundle() -> dict[str, bytes | str]:
    def process(pid: str, attributes: str, timer: bool = False) -> str:
        when = ('<bpmn:timerEventDefinition><bpmn:timeCycle>"R/P90D"</bpmn:timeCycle></bpmn:timerEventDefinition>'
                if timer else "")
        return (f'<bpmn:process id="{pid}" isExecutable="true" {attributes}>'
                f'<bpmn:startEvent id="{pid}_s">{when}</bpmn:startEvent>'
                f'<bpmn:sequenceFlow id="{pid}_f" sourceRef="{pid}_s" targetRef="{pid}_e"/>'
                f'<bpmn:endEvent id="{pid}_e"/></bpmn:process>')
    body = "".join([
        process("desk_only", 'camunda:candidateStarterGroups="desk, second_desk"'),
        process("named", 'camunda:candidateStarterUsers="sam"'),
        process("open_to_all", ""),
        process("scheduled", "", timer=True),
    ])
    return {"starters.bpmn": f"{HEAD}{body}</bpmn:definitions>"}


@pytest.fixture
def engine(make_engine) -> Engine:
    engine = make_engine()
    engine.definitions.deploy(bundle(), OWNER)
    return engine


def test_only_candidate_starters_and_admins_may_start(engine: Engine) -> None:
    assert engine.instances.start("desk_only", {}, DESK).state == InstanceState.COMPLETED
    assert engine.instances.start("desk_only", {}, ADMIN).state == InstanceState.COMPLETED
    with pytest.raises(PermissionDenied, match="only desk, second_desk may start desk_only"):
        engine.instances.start("desk_only", {}, STORE)
    assert engine.instances.start("named", {}, STORE).state == InstanceState.COMPLETED
    with pytest.raises(PermissionDenied):
        engine.instances.start("named", {}, DESK)
    assert engine.instances.start("open_to_all", {}, GUEST).state == InstanceState.COMPLETED
    assert engine.instances.list(ADMIN).total == 4  # the refusals started nothing


def test_the_start_list_offers_what_each_person_may_start_by_hand(engine: Engine) -> None:
    assert [d.key for d in engine.definitions.startable(DESK)] == ["desk_only", "open_to_all"]
    assert [d.key for d in engine.definitions.startable(STORE)] == ["named", "open_to_all"]
    assert [d.key for d in engine.definitions.startable(ADMIN)] == ["desk_only", "named", "open_to_all"]
    assert engine.definitions.startable_one("desk_only", DESK).key == "desk_only"
    with pytest.raises(PermissionDenied):
        engine.definitions.startable_one("desk_only", GUEST)
    with pytest.raises(NotFound, match="timer"):
        engine.definitions.startable_one("scheduled", ADMIN)
