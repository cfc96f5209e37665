"""Incidents are listed and resolved by admins only; resolving is audited."""

from __future__ import annotations

import pytest

from engine.core import Engine
from engine.errors import Conflict, NotFound, PermissionDenied, ScriptError
from engine.views import AuditType
from tests.conftest import ADMIN, AUDITOR, DAVE, OWNER, fixture_files


@pytest.fixture
def failed(engine: Engine) -> tuple[Engine, str]:
    engine.definitions.deploy(fixture_files("failing.bpmn"), OWNER)
    case = engine.instances.start("failing", {}, DAVE)
    with pytest.raises(ScriptError):
        engine.tasks.complete(case.open_tasks[0].id, {"note": "x"}, DAVE)
    return engine, case.id


def test_admins_list_and_resolve_incidents(failed: tuple[Engine, str]) -> None:
    engine, case_id = failed
    (incident,) = engine.incidents.list(ADMIN).items
    assert (incident.instance_id, incident.element_id, incident.state) == (case_id, "boom", "open")
    assert "ZeroDivisionError" in incident.message
    resolved = engine.incidents.resolve(incident.id, ADMIN, "fixed the script in v2")
    assert (resolved.state, resolved.resolved_by) == ("resolved", "adam")
    assert engine.incidents.list(ADMIN).total == 0
    assert engine.incidents.list(ADMIN, state="resolved").items[0].id == incident.id
    (event,) = engine.audit_events(type=AuditType.INCIDENT_RESOLVED)
    assert (event.actor, event.instance_id, event.data["comment"]) == ("adam", case_id, "fixed the script in v2")
    with pytest.raises(Conflict):
        engine.incidents.resolve(incident.id, ADMIN)


def test_only_admins_manage_incidents(failed: tuple[Engine, str]) -> None:
    engine, _ = failed
    for actor in (DAVE, AUDITOR, OWNER):
        with pytest.raises(PermissionDenied):
            engine.incidents.list(actor)
    incident_id = engine.incidents.list(ADMIN).items[0].id
    with pytest.raises(PermissionDenied):
        engine.incidents.resolve(incident_id, DAVE)
    with pytest.raises(NotFound):
        engine.incidents.resolve(999_999, ADMIN)
    assert engine.incidents.list(ADMIN).items[0].state == "open"
