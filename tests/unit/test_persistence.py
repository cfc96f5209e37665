"""Persistence: migrations, incremental writes, stale writers, state formats, save/restore/compare, races."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, select, text

import engine.cases
import engine.runtime.state as state
from engine import records
from engine.cases import SEQ_SPAN, LiveCase
from engine.core import Engine
from engine.db.migrate import alembic_config, downgrade
from engine.db.models import Base, EngineTask, Incident, ProcessInstance
from engine.errors import Conflict, EngineError
from engine.runtime.state import STATE_VERSION, restore, serialized
from engine.views import AuditType, InstanceState
from tests.conftest import ADMIN, ALICE, BOB, CAROL, DAVE, OWNER, fixture_files
from tests.pg import assert_one_winner_each, prepare_race, race_in_processes, race_in_threads

CORE_TABLES = {"audit_event", "audit_head", "definition_source", "engine_task", "human_task",
               "human_task_candidate", "incident", "process_definition", "process_instance"}


def run_sql(engine: Engine, *statements: str, **params: Any) -> None:
    with engine.db.write_engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)


def case_row(engine: Engine, instance_id: str) -> tuple[int, str, str, list[tuple[str, str]]]:
    """(version, state, header, [(task id, body)]) as stored."""
    with engine.db.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        bodies = session.execute(select(EngineTask.task_id, EngineTask.body)
                                 .where(EngineTask.instance_id == instance_id).order_by(EngineTask.row_key)).all()
        return row.version, row.state, row.engine_header, [tuple(b) for b in bodies]


# -- schema ----------------------------------------------------------------------------------------


def _table_of(diff: Any) -> str:
    """The table an autogenerate difference is about: ("op", Table|Index|Constraint) or ("op", schema, table, ...)."""
    item = diff[0] if isinstance(diff, list) else diff
    target = item[1]
    if hasattr(target, "table"):
        return str(target.table.name)
    if hasattr(target, "columns"):
        return str(target.name)
    return str(item[2])


def test_the_schema_is_built_by_alembic_and_matches_the_models(any_db_url: str, make_engine) -> None:
    make_engine(any_db_url)  # migrates
    probe = create_engine(any_db_url)
    try:
        with probe.connect() as conn:
            assert set(inspect(conn).get_table_names()) >= CORE_TABLES
            head = ScriptDirectory.from_config(alembic_config(any_db_url)).get_current_head()
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head
            diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        ours = [d for d in diffs if _table_of(d) in CORE_TABLES]  # other migrations' tables have other models
        assert ours == []
    finally:
        probe.dispose()


def test_downgrade_to_base_and_upgrade_again(any_db_url: str, make_engine) -> None:
    first = make_engine(any_db_url)
    first.definitions.deploy(fixture_files("loop.bpmn"), OWNER)
    first.close()
    downgrade(any_db_url, "base")
    probe = create_engine(any_db_url)
    try:
        with probe.connect() as conn:
            assert not CORE_TABLES & set(inspect(conn).get_table_names())
            if probe.dialect.name == "postgresql":
                gone = "SELECT count(*) FROM pg_proc WHERE proname = 'audit_event_append_only'"
                assert conn.execute(text(gone)).scalar_one() == 0
    finally:
        probe.dispose()
    again = make_engine(any_db_url)
    again.migrate()
    again.definitions.deploy(fixture_files("loop.bpmn"), OWNER)
    case = again.instances.start("loop", {"limit": 1}, DAVE)
    assert again.tasks.complete(case.open_tasks[0].id, {}, DAVE).state == InstanceState.COMPLETED
    assert [d.version for d in again.definitions.versions("loop")] == [1]
    assert again.verify_audit().checked == 5


def test_cases_are_numbered_in_start_order_and_their_task_rows_keyed_by_number(any_db_url: str,
                                                                               make_engine) -> None:
    engine = make_engine(any_db_url)
    engine.definitions.deploy(fixture_files("loop.bpmn"), OWNER)
    cases = [engine.instances.start("loop", {"limit": 3}, DAVE) for _ in range(3)]
    engine.tasks.complete(cases[0].open_tasks[0].id, {"note": "one"}, DAVE)
    with engine.db.reading() as session:
        numbers = [session.get(ProcessInstance, c.id).number for c in cases]  # type: ignore[union-attr]
        assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]
        for case, number in zip(cases, numbers, strict=True):
            keys = session.execute(select(EngineTask.row_key).where(EngineTask.instance_id == case.id)
                                   .order_by(EngineTask.row_key)).scalars().all()
            assert keys and all(number * SEQ_SPAN <= k < (number + 1) * SEQ_SPAN
                                for k in keys)


def test_cases_in_flight_survive_the_task_row_rekeying_both_ways(any_db_url: str, make_engine) -> None:
    """Migration 0007 down and up again with open cases: every row comes back under its case, in order."""
    first = make_engine(any_db_url)
    first.definitions.deploy(fixture_files("loop.bpmn"), OWNER)
    cases = [first.instances.start("loop", {"limit": 3}, DAVE) for _ in range(2)]
    cases[1] = first.tasks.complete(cases[1].open_tasks[0].id, {"note": "one"}, DAVE)
    before = {c.id: case_row(first, c.id)[3] for c in cases}
    first.close()
    downgrade(any_db_url, "0006")
    probe = create_engine(any_db_url)
    try:
        with probe.connect() as conn:
            assert "number" not in {c["name"] for c in inspect(conn).get_columns("process_instance")}
            rows = conn.execute(text("SELECT instance_id, task_id, body FROM engine_task ORDER BY instance_id, seq"))
            by_case: dict[str, list[tuple[str, str]]] = {}
            for instance_id, task_id, body in rows:
                by_case.setdefault(instance_id, []).append((task_id, body))
        assert by_case == before
    finally:
        probe.dispose()
    again = make_engine(any_db_url)
    again.migrate()
    assert {c.id: case_row(again, c.id)[3] for c in cases} == before
    for case in cases:  # restored from the re-keyed rows (a new engine has nothing cached)
        while case.state != InstanceState.COMPLETED:
            case = again.tasks.complete(case.open_tasks[0].id, {"note": "again"}, DAVE)
    third = again.instances.start("loop", {"limit": 1}, DAVE)
    with again.db.reading() as session:
        numbers = sorted(session.get(ProcessInstance, c.id).number for c in (*cases, third))  # type: ignore[union-attr]
    assert numbers == [1, 2, 3]


# -- writing what changed ----------------------------------------------------------------------------


def install_write_log(engine: Engine) -> None:
    """Test-only triggers that log every row written to engine_task, however the engine issues it."""
    if engine.db.is_sqlite:
        run_sql(engine, "CREATE TABLE test_write_log (op TEXT, size INTEGER)", *[
            f"CREATE TRIGGER test_log_{op} AFTER {op} ON engine_task BEGIN "
            f"INSERT INTO test_write_log VALUES ('{op.lower()}', {size}); END"
            for op, size in (("INSERT", "length(NEW.body)"), ("UPDATE", "length(NEW.body)"), ("DELETE", "0"))])
    else:
        run_sql(engine, "CREATE TABLE test_write_log (op TEXT, size INTEGER)",
                "CREATE FUNCTION test_log_write() RETURNS trigger AS $$ BEGIN "
                "INSERT INTO test_write_log VALUES (lower(TG_OP), "
                "CASE WHEN TG_OP = 'DELETE' THEN 0 ELSE length(NEW.body) END); RETURN NULL; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER test_log AFTER INSERT OR UPDATE OR DELETE ON engine_task "
                "FOR EACH ROW EXECUTE FUNCTION test_log_write()")


def drain_write_log(engine: Engine) -> tuple[int, int]:
    """(rows written, bytes written) since the last drain."""
    with engine.db.write_engine.begin() as conn:
        rows, size = conn.execute(text("SELECT count(*), coalesce(sum(size), 0) FROM test_write_log")).one()
        conn.execute(text("DELETE FROM test_write_log"))
    return int(rows), int(size)


@pytest.mark.parametrize("key", ["loop", "parallel_loop"])
def test_a_step_writes_only_what_changed(any_db_url: str, make_engine, key: str) -> None:
    engine = make_engine(any_db_url, verify_state_writes=False)
    engine.definitions.deploy(fixture_files(f"{key}.bpmn"), OWNER)
    install_write_log(engine)
    case = engine.instances.start(key, {"limit": 60}, DAVE)
    drain_write_log(engine)
    per_round = []
    while case.open_tasks:
        case = engine.tasks.complete(case.open_tasks[0].id, {}, DAVE)
        per_round.append(drain_write_log(engine))
    assert case.data["count"] == 60 and len(per_round) == 60
    early, late = per_round[2:8], per_round[50:58]
    assert max(r for r, _ in late) <= max(r for r, _ in early)  # rows per step do not grow with age
    assert max(b for _, b in late) <= 1.1 * max(b for _, b in early)
    assert max(r for r, _ in per_round) < 40
    _, _, _, stored = case_row(engine, case.id)
    assert len(stored) > 4 * max(r for r, _ in late)  # the case is much bigger than what a step writes


# -- stale writers --------------------------------------------------------------------------------------


def test_a_stale_case_record_is_never_written(any_db_url: str, make_engine) -> None:
    engine = make_engine(any_db_url, verify_state_writes=False)
    engine.definitions.deploy(fixture_files("loop.bpmn"), OWNER)
    case = engine.instances.start("loop", {"limit": 5}, DAVE)
    with engine.db.reading() as session:
        old = records.read_case(engine.db.fast, session, case.id)
    engine.tasks.complete(case.open_tasks[0].id, {}, DAVE)
    stored = case_row(engine, case.id)
    assert stored[0] == old.version + 1
    old.state, old.engine_header = InstanceState.CANCELLED, '{"version": "stale"}'
    with pytest.raises(Conflict, match="changed by someone else"), engine.db.transaction() as session:
        records.write_case(engine.db.fast, session, old)
    assert case_row(engine, case.id) == stored
    # of two writers holding the same version, only the first wins
    with engine.db.reading() as session:
        first, second = (records.read_case(engine.db.fast, session, case.id) for _ in range(2))
    with engine.db.transaction() as session:
        first.business_key = "FIRST"
        records.write_case(engine.db.fast, session, first)
    second.business_key = "SECOND"
    with pytest.raises(Conflict), engine.db.transaction() as session:
        records.write_case(engine.db.fast, session, second)
    view = engine.instances.get(case.id, ADMIN)
    assert (view.business_key, view.row_version, view.data["count"]) == ("FIRST", stored[0] + 1, 1)


def test_a_stale_cached_workflow_is_restored_not_written_back(any_db_url: str, make_engine, monkeypatch) -> None:
    first = make_engine(any_db_url, verify_state_writes=False)
    first.definitions.deploy(fixture_files("loop.bpmn"), OWNER)
    case = first.instances.start("loop", {"limit": 10}, DAVE)
    for _ in range(2):
        case = first.tasks.complete(case.open_tasks[0].id, {}, DAVE)  # `first` now caches this version
    seen_task = case.open_tasks[0].id
    second = make_engine(any_db_url, verify_state_writes=False)
    other = case
    for _ in range(3):
        other = second.tasks.complete(other.open_tasks[0].id, {}, CAROL)
    stored = case_row(first, case.id)
    restores: list[str] = []
    real_restore = engine.cases.restore

    def counting_restore(*args: Any, **kwargs: Any) -> Any:
        restores.append("restore")
        return real_restore(*args, **kwargs)

    monkeypatch.setattr(engine.cases, "restore", counting_restore)
    with pytest.raises(Conflict, match="no longer open"):
        first.tasks.complete(seen_task, {}, DAVE)  # what `first` still believes is open
    assert case_row(first, case.id) == stored
    after = first.tasks.complete(other.open_tasks[0].id, {}, DAVE)
    assert after.data["count"] == 6 and restores  # restored from the rows, not the stale cache
    after = first.tasks.complete(after.open_tasks[0].id, {}, DAVE)
    assert after.data["count"] == 7
    completions = first.audit_events(type=AuditType.TASK_COMPLETED, instance_id=case.id)
    assert [e.actor for e in completions] == ["dave", "dave", "carol", "carol", "carol", "dave", "dave"]
    assert make_engine(any_db_url).instances.get(case.id, ADMIN).data["count"] == 7


# -- state format versions -------------------------------------------------------------------------------


def set_header_version(engine: Engine, instance_id: str, version: Any) -> None:
    header = json.loads(case_row(engine, instance_id)[2])
    header["version"] = version
    run_sql(engine, "UPDATE process_instance SET engine_header = :h WHERE id = :id",
            h=json.dumps(header), id=instance_id)


def make_old_format(engine: Engine, instance_id: str, version: Any) -> None:
    """Rewrite a case's stored state as an older format would have: another header version, renamed keys."""
    set_header_version(engine, instance_id, version)
    for task_id, body in case_row(engine, instance_id)[3]:
        old = json.loads(body)
        old["legacy_state"] = old.pop("state")
        run_sql(engine, "UPDATE engine_task SET body = :b WHERE instance_id = :i AND task_id = :t",
                b=json.dumps(old), i=instance_id, t=task_id)


def upgrade_legacy(header: dict[str, Any], bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        body["state"] = body.pop("legacy_state")


@pytest.fixture
def old_case(any_db_url: str, make_engine) -> tuple[str, str]:
    engine = make_engine(any_db_url, verify_state_writes=False)
    engine.definitions.deploy(fixture_files("loop.bpmn"), OWNER)
    case = engine.instances.start("loop", {"limit": 5}, DAVE)
    case = engine.tasks.complete(case.open_tasks[0].id, {}, DAVE)
    make_old_format(engine, case.id, "opsflow-0/test")
    return case.id, case.open_tasks[0].id


@pytest.mark.parametrize("version", ["opsflow-0/test", None, 1])
def test_state_in_an_unknown_format_is_refused(any_db_url: str, make_engine, old_case, version: Any) -> None:
    instance_id, task_id = old_case
    engine = make_engine(any_db_url, verify_state_writes=False)  # nothing cached
    if version != "opsflow-0/test":
        set_header_version(engine, instance_id, version)
    before = case_row(engine, instance_id)
    with pytest.raises(EngineError, match="refusing to load") as err:
        engine.tasks.complete(task_id, {}, DAVE)
    assert STATE_VERSION in str(err.value)
    assert case_row(engine, instance_id) == before
    with engine.db.reading() as session:
        incident = session.execute(select(Incident).where(Incident.instance_id == instance_id)).scalar_one()
    assert "refusing to load" in incident.message


def test_a_registered_upgrade_lets_an_older_state_load(any_db_url: str, make_engine, old_case, monkeypatch) -> None:
    instance_id, task_id = old_case
    calls: list[int] = []

    def upgrade(header: dict[str, Any], bodies: list[dict[str, Any]]) -> None:
        calls.append(len(bodies))
        upgrade_legacy(header, bodies)

    monkeypatch.setitem(state.UPGRADES, "opsflow-0/test", upgrade)
    engine = make_engine(any_db_url, verify_state_writes=False)
    case = engine.tasks.complete(task_id, {}, DAVE)
    assert case.data["count"] == 2 and calls and calls[0] > 0
    assert json.loads(case_row(engine, instance_id)[2])["version"] == STATE_VERSION


def test_an_upgraded_case_is_stored_in_the_current_format(any_db_url: str, make_engine, old_case,
                                                          monkeypatch) -> None:
    instance_id, task_id = old_case
    monkeypatch.setitem(state.UPGRADES, "opsflow-0/test", upgrade_legacy)
    case = make_engine(any_db_url, verify_state_writes=False).tasks.complete(task_id, {}, DAVE)
    assert json.loads(case_row(make_engine(any_db_url), instance_id)[2])["version"] == STATE_VERSION
    later = make_engine(any_db_url, verify_state_writes=False)  # another process, nothing cached
    assert later.tasks.complete(case.open_tasks[0].id, {}, DAVE).data["count"] == 3
    # the header claims the current format, so every row must be in it
    assert [tid for tid, body in case_row(later, instance_id)[3] if "legacy_state" in body] == []


# -- save -> restore -> compare -------------------------------------------------------------------------

APPROVE = {"title": "Laptop", "amount": 3, "publish_by": "2030-01-01T00:00:00Z"}
SCENARIOS = {
    "approval": (APPROVE, [(BOB, {"decision": "approve", "comment": "ok"}), (ALICE, {"published": True})]),
    "loop": ({"limit": 4}, [(DAVE, {"note": f"round {n}"}) for n in range(4)]),
    "parallel_loop": ({"limit": 4}, [(CAROL, {"note": f"round {n}"}) for n in range(4)]),
}


def assert_restores_to_the_live_workflow(engine: Engine, live: LiveCase) -> None:
    version, _, header, bodies = case_row(engine, live.instance_id)
    assert live.version == version, "the step's live workflow should be at the version it wrote"
    with engine.db.reading() as session:
        rows = session.execute(select(EngineTask.workflow_id, EngineTask.body)
                               .where(EngineTask.instance_id == live.instance_id).order_by(EngineTask.row_key)).all()
    restored = restore(live.compiled.spec, live.compiled.subprocess_specs, header,
                       [(r.workflow_id, r.body) for r in rows], engine.runtime.script_engine)
    expected = serialized(live.workflow)
    assert serialized(restored) == expected
    assert {tid for tid, _ in bodies} == set(expected["tasks"])  # no orphan or missing rows
    assert restored.script_engine is engine.runtime.script_engine


@pytest.mark.parametrize("key", list(SCENARIOS))
def test_save_restore_compare_after_every_step(any_db_url: str, make_engine, key: str, monkeypatch) -> None:
    engine = make_engine(any_db_url, verify_state_writes=False)
    engine.definitions.deploy(fixture_files(f"{key}.bpmn"), OWNER)
    # the live workflow of each step as it was committed (an ended case leaves no cache entry to take)
    committed: list[LiveCase] = []
    original = engine.store.committed
    monkeypatch.setattr(engine.store, "committed", lambda live: committed.append(live) or original(live))
    start, steps = SCENARIOS[key]
    case = engine.instances.start(key, start, ALICE)
    assert_restores_to_the_live_workflow(engine, committed[-1])
    for actor, data in steps:
        case = engine.tasks.complete(case.open_tasks[0].id, data, actor)
        assert committed[-1].instance_id == case.id
        assert_restores_to_the_live_workflow(engine, committed[-1])
    assert case.state == InstanceState.COMPLETED


# -- races on SQLite (PostgreSQL: tests/pg/test_concurrency.py) ---------------------------------------


def test_two_processes_completing_the_same_task_on_sqlite(make_engine, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url, verify_state_writes=False)
    rounds = prepare_race(engine, 8)
    assert_one_winner_each(engine, rounds, race_in_processes(sqlite_url, [CAROL, DAVE], rounds))


@pytest.mark.parametrize("shared", [True, False], ids=["one-engine", "two-engines"])
def test_two_threads_completing_the_same_task_on_sqlite(make_engine, sqlite_url: str, shared: bool) -> None:
    engine = make_engine(sqlite_url, verify_state_writes=False)
    rounds = prepare_race(engine, 10)
    engines = [engine, engine] if shared else [engine, make_engine(sqlite_url, verify_state_writes=False)]
    assert_one_winner_each(engine, rounds, race_in_threads(engines, [CAROL, DAVE], rounds))
    assert Counter(e.type for e in engine.audit_events())[AuditType.TASK_COMPLETED] == 10


def test_a_task_body_is_the_libraries_own_task_dict(engine: Engine) -> None:
    # task_body builds the row text directly; it must stay exactly the serializer's dict, as dump_json writes it
    from datetime import date
    from decimal import Decimal

    engine.definitions.deploy(fixture_files("approval.bpmn"), OWNER)
    case = engine.instances.start("approval", {"title": "中文 \"quoted\"\n", "amount": Decimal("12.50"),
                                               "when": date(2030, 1, 2), "tags": [1, 2.5, True, None],
                                               "publish_by": "2030-01-02T03:04:05Z"}, ALICE)
    engine.tasks.complete(case.open_tasks[0].id, {"decision": "approve", "comment": "ok"}, BOB)
    with engine.db.reading() as session:
        row = records.read_case(engine.db.fast, session, case.id)
    live = engine.store.cache.take(case.id, row.version)
    assert live is not None
    for task in live.workflow.tasks.values():
        body = state.task_body(task)
        assert json.loads(body) == state.REGISTRY.convert(task)
        assert body == state.dump_json(json.loads(body))  # compact, as dump_json writes it
