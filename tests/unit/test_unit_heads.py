"""unit_heads(): who heads a person's unit, walked up the org chart, as diagrams route a sign-off (001 篇12 §六(五))."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.core import Engine
from engine.errors import ScriptError
from engine.identity import IdentityService
from engine.identity.org import OrgLookup, nearest_heads
from engine.sandbox import SandboxedScriptEngine
from engine.views import Actor, Role
from tests.conftest import ADMIN, OWNER, EngineFactory, fixture_files

PARENTS = {"company": None, "ops": "company", "desk": "ops", "quality": "company"}


@pytest.mark.parametrize("units, person, expected", [
    (["desk"], "d1", ["m1"]),  # a team without a manager: its department's
    (["ops"], "m1", ["ceo"]),  # a manager: the unit above, never themselves
    (["ops"], "m2", ["m1"]),  # a second manager of the same unit: the first one
    (["desk", "quality"], "x", ["ceo", "m1"]),  # several units: the nearest head of each
    ([], "nobody", ["ceo"]),  # in no unit: the top of the chart
    (["company"], "ceo", []),  # the head of the company has nobody above them
    (["gone"], "x", []),  # a unit no longer in the chart
])
def test_nearest_heads(units: list[str], person: str, expected: list[str]) -> None:
    heads = {"company": {"ceo"}, "ops": {"m1", "m2"} if person == "m2" else {"m1"}}
    assert nearest_heads(units, PARENTS, heads, person) == expected


def test_a_cycle_in_the_chart_ends_the_walk() -> None:
    assert nearest_heads(["a"], {"a": "b", "b": "a"}, {}, "x") == []


@pytest.fixture
def engine(make_engine: EngineFactory, any_db_url: str) -> Engine:
    return make_engine(any_db_url)  # SQLite, and PostgreSQL when configured


@pytest.fixture
def identity(engine: Engine, tmp_path: Path) -> IdentityService:
    chart = {
        "groups": [
            {"key": key, "name": {"zh": key, "en": key}, "parent": parent} for key, parent in PARENTS.items()
        ],
        "demo_users": [{"username": "ceo", "groups": ["company"], "roles": ["manager"]}],  # adds the role
    }
    path = tmp_path / "org_chart.json"
    path.write_text(json.dumps(chart), "utf-8")
    service = IdentityService(engine.db, engine.audit, engine.settings)  # users without passwords: none hashed
    service.load_org_chart(path)
    for name, groups, roles in [("ceo", ["company"], ["manager"]), ("m1", ["ops"], ["manager"]),
                                ("d1", ["desk"], ["staff"]), ("q1", ["quality"], ["staff"])]:
        service.create_user(name, None, groups=groups, roles=roles)
    return service


def test_the_lookup_reads_the_identity_tables(engine: Engine, identity: IdentityService) -> None:
    lookup = OrgLookup(engine.db)
    assert lookup.unit_heads("d1") == ["m1"]
    assert lookup.unit_heads("q1") == ["ceo"]  # quality has no manager
    assert lookup.unit_heads("m1") == ["ceo"]
    assert lookup.unit_heads("ceo") == []
    assert lookup.unit_heads("someone-new") == ["ceo"]  # not (yet) a user: the top of the chart
    identity.update_user("m1", active=False, actor=ADMIN)
    assert lookup.unit_heads("d1") == ["ceo"]  # an inactive manager signs nothing: the next one up
    with pytest.raises(TypeError):
        lookup.unit_heads(42)  # type: ignore[arg-type]


def test_the_heads_of_a_named_unit_other_than_a_person(engine: Engine, identity: IdentityService) -> None:
    """group_heads(): "the operations manager" for an approval, but never the person the approval is about."""
    lookup = OrgLookup(engine.db)
    assert lookup.group_heads("ops") == ["m1"]
    assert lookup.group_heads("ops", "d1") == ["m1"]
    assert lookup.group_heads("ops", "m1") == ["ceo"]  # the manager's own request: their superior
    assert lookup.group_heads("desk") == ["m1"]  # a team without a manager: its department's
    assert lookup.group_heads("company", "ceo") == []
    with pytest.raises(ValueError, match="no group 'nope'"):
        lookup.group_heads("nope")
    with pytest.raises(TypeError):
        lookup.group_heads("ops", 7)  # type: ignore[arg-type]
    with engine.db.transaction() as session:  # inside a step: the step's chart, read once
        assert lookup.group_heads("quality", "q1") == ["ceo"] and lookup.unit_heads("d1") == ["m1"]
        assert "opsflow.org_lookup" in session.info


def test_a_diagram_offers_the_task_to_the_heads_as_the_chart_is_when_the_task_opens(
    engine: Engine, identity: IdentityService
) -> None:
    engine.definitions.deploy(fixture_files("sign_off.bpmn"), OWNER)
    d1 = Actor("d1", groups=frozenset({"desk"}), roles=frozenset({Role.STAFF}))
    case = engine.instances.start("sign_off", {}, d1)
    (task,) = case.open_tasks
    assert (task.candidate_users, task.candidate_groups) == (["m1"], [])
    identity.create_user("m3", None, groups=["desk"], roles=["manager"])  # the team gets its own manager
    after = engine.tasks.complete(task.id, {}, Actor("m1", groups=frozenset({"ops"}), roles=frozenset({Role.STAFF})))
    (again,) = after.open_tasks
    assert again.candidate_users == ["m3"]  # evaluated when the task opens, no redeploy


def test_a_bad_argument_is_a_script_error_at_the_element(engine: Engine) -> None:
    engine.definitions.deploy(fixture_files("sign_off.bpmn"), OWNER)
    with pytest.raises(ScriptError) as failed:
        engine.instances.start("sign_off", {}, Actor("", roles=frozenset({Role.STAFF})))
    assert failed.value.element_id == "sign" and "unit_heads() takes a username" in str(failed.value)


@pytest.mark.parametrize("name", ["_private", "len", "open"])
def test_a_helper_cannot_shadow_builtins_or_forbidden_names(name: str) -> None:
    with pytest.raises(ValueError, match="cannot be a diagram helper"):
        SandboxedScriptEngine(helpers={name: lambda: None})


def test_inside_a_step_the_lookup_reads_in_the_steps_own_transaction(engine: Engine, identity: IdentityService) -> None:
    from engine.identity.models import User, UserGroup

    lookup = OrgLookup(engine.db)
    assert engine.db.current_transaction() is None
    with pytest.raises(LookupError), engine.db.transaction() as session:
        assert engine.db.current_transaction() is session
        ceo = session.query(User).filter_by(username="ceo").one()
        session.add(UserGroup(user_id=ceo.id, group_key="desk"))  # not committed: only this transaction sees it
        session.flush()
        assert lookup.unit_heads("d1") == ["ceo"]  # the desk now has a head of its own
        raise LookupError("roll back")
    assert engine.db.current_transaction() is None
    assert lookup.unit_heads("d1") == ["m1"]


def test_one_step_reads_the_chart_once_and_looks_up_a_bounded_number_of_people(
    engine: Engine, identity: IdentityService
) -> None:
    from engine.identity.org import MAX_LOOKUPS_PER_STEP

    lookup = OrgLookup(engine.db)
    with engine.db.transaction():
        names = [f"someone-{i}" for i in range(MAX_LOOKUPS_PER_STEP - 1)]
        assert all(lookup.unit_heads(name) == ["ceo"] for name in names)
        assert lookup.unit_heads("d1") == ["m1"]
        assert lookup.unit_heads("someone-0") == ["ceo"]  # someone looked up already costs nothing more
        with pytest.raises(RuntimeError, match="more than 100 people in one step"):
            lookup.unit_heads("one-too-many")
    assert lookup.unit_heads("one-too-many") == ["ceo"]  # outside a step, or in the next one: looked up again
