"""Every read the engine issues is answered through an index (SQLite: EXPLAIN QUERY PLAN).

Each case below runs real service calls, records every statement they send (ORM and FastSQL alike) and
asks the database for its plan. A table read without an index condition fails the test, and so does a
missing index the case names: dropping an index some query needs, or changing a query so that no index
fits it any more, shows up here. tests/pg/test_query_plans.py runs the same cases on PostgreSQL.

Reads that scan on purpose are not among the cases: the admin's unfiltered case list and the unfiltered
audit page (both read everything, newest or oldest first), the case list filtered by state alone, and the
audit trail filtered by process key alone (no index serves those two today; each would cost every write).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from engine.core import Engine
from engine.db import fast as fast_module
from engine.views import TaskState
from tests.conftest import ADMIN, ALICE, AUDITOR, BOB, CAROL, OWNER, fixture_files

# Tables that grow with use; configuration tables (definitions, users, roles) are small and may be scanned.
GROWING = {"audit_event", "engine_task", "human_task", "human_task_candidate", "incident", "job",
           "message_receipt", "message_wait", "notification", "process_instance"}


@dataclass(frozen=True)
class Case:
    """A use case (given the engine and a few ids found beforehand), the indexes the plans of its statements
    must use (SQLite names), and the growing tables it may read in full (each with its reason below)."""

    name: str
    run: Callable[[Engine, dict[str, str]], Any]
    indexes: tuple[str, ...] = ()
    scans: tuple[str, ...] = ()


CASES = [
    Case("inbox: mine and offered", lambda e, ids: e.inbox.query(BOB),
         ("ix_human_task_state_created",)),
    Case("inbox: mine", lambda e, ids: e.inbox.query(BOB, mine=True), ("ix_human_task_assignee_state",)),
    Case("inbox: mine, completed", lambda e, ids: e.inbox.query(BOB, mine=True, state=TaskState.COMPLETED),
         ("ix_human_task_assignee_state",)),
    Case("inbox: offered", lambda e, ids: e.inbox.query(CAROL, candidate=True), ("ix_human_task_assignee_state",)),
    Case("inbox: offered, cancelled", lambda e, ids: e.inbox.query(CAROL, candidate=True, state=TaskState.CANCELLED),
         ("ix_human_task_state_created",)),
    Case("inbox: by process", lambda e, ids: e.inbox.query(BOB, key="inbox_triage"), ()),
    Case("inbox: sorted by due date", lambda e, ids: e.inbox.query(BOB, sort="due"), ("ix_human_task_state_created",)),
    Case("inbox: sorted by priority", lambda e, ids: e.inbox.query(BOB, sort="priority"),
         ("ix_human_task_state_created",)),
    Case("inbox: text search", lambda e, ids: e.inbox.query(BOB, q="INC"), ("ix_human_task_state_created",)),
    Case("inbox: tab counts", lambda e, ids: e.inbox.counts(CAROL), ()),
    # "started by me, assigned to me, or offered to me or my groups": a union of lookups, each by its index
    Case("cases: mine (took part)", lambda e, ids: e.instances.list(BOB),
         ("ix_process_instance_started_by", "ix_human_task_assignee_state", "ix_human_task_candidate_lookup")),
    Case("cases: by process", lambda e, ids: e.instances.list(ADMIN, key="approval"), ("ix_process_instance_key_state",)),
    Case("cases: by process and state", lambda e, ids: e.instances.list(ADMIN, key="approval", state="running"),
         ("ix_process_instance_key_state",)),
    Case("cases: by starter", lambda e, ids: e.instances.list(ADMIN, started_by="alice"),
         ("ix_process_instance_started_by",)),
    Case("case: read with permission check", lambda e, ids: e.instances.get(ids["approval_case"], BOB), ()),
    Case("task: read", lambda e, ids: e.tasks.get(ids["approval_task"], CAROL), ()),
    Case("audit: a case's timeline", lambda e, ids: e.trail.case_timeline(ids["approval_case"], ADMIN),
         ("ix_audit_event_instance",)),
    Case("audit: by user", lambda e, ids: e.trail.events(AUDITOR, user="alice"), ("ix_audit_event_actor",)),
    Case("audit: by type", lambda e, ids: e.trail.events(AUDITOR, type="task_completed"), ("ix_audit_event_type",)),
    # Without ANALYZE statistics SQLite pages `occurred_at >= ? ORDER BY id` along the primary key (its count
    # uses ix_audit_event_occurred); PostgreSQL uses the index for both.
    Case("audit: by time", lambda e, ids: e.trail.events(AUDITOR, since=datetime.now(UTC) - timedelta(hours=1)),
         ("ix_audit_event_occurred",), scans=("audit_event",)),
    Case("audit: export by type", lambda e, ids: list(e.trail.stream(AUDITOR, type="instance_started")),
         ("ix_audit_event_type",)),
    Case("audit: verify", lambda e, ids: e.trail.verify(AUDITOR), ()),
    Case("jobs: claim due timers", lambda e, ids: e.jobs.claim("w1"), ("ix_job_due",)),
    Case("messages: deliver", lambda e, ids: e.messages.deliver("payment_received", {"order_no": "A-1"}, {"amount": 10}, ADMIN),
         ("ix_message_wait_name",)),
    Case("notifications: mine", lambda e, ids: e.notifications.for_actor(CAROL), ("ix_notification_recipient",)),
    Case("notifications: mail pending", lambda e, ids: e.mailer.send_pending(), ("ix_notification_email_pending",)),
    Case("incidents: open", lambda e, ids: e.incidents.list(ADMIN), ("ix_incident_state_created",)),
    Case("step: complete a task", lambda e, ids: e.tasks.complete(ids["triage_task_2"], {}, CAROL),
         ()),
    Case("step: restore an uncached case", lambda e, ids: _complete_uncached(e, ids), ()),
]


def _case(engine: Engine, key: str) -> str:
    return next(c.id for c in engine.instances.list(ADMIN, key=key).items if c.open_tasks)


def _open_task(engine: Engine, key: str) -> str:
    return next(c.open_tasks[0].id for c in engine.instances.list(ADMIN, key=key).items if c.open_tasks)


def _complete_uncached(engine: Engine, ids: dict[str, str]) -> Any:
    engine.cache.clear()  # the step restores the case from its rows: engine_task, message_wait, job
    return engine.tasks.complete(ids["triage_task"], {}, CAROL)


def ids_of(engine: Engine) -> dict[str, str]:
    """Ids the cases act on, found before recording (finding them is not what is tested)."""
    triage = [t for c in engine.instances.list(ADMIN, key="inbox_triage").items for t in c.open_tasks
              if t.assignee is None and "reviewers" in t.candidate_groups]
    return {"approval_case": _case(engine, "approval"), "approval_task": _open_task(engine, "approval"),
            "triage_task": triage[0].id, "triage_task_2": triage[1].id}


def populate(engine: Engine) -> None:
    """A few cases of every kind, some tasks done, a timer and a message waiting, notices pending."""
    engine.definitions.deploy(fixture_files("inbox_triage.bpmn", "inbox_dispatch.bpmn", "approval.bpmn"), OWNER)
    engine.definitions.deploy(fixture_files("messages.bpmn"), OWNER)
    engine.definitions.deploy(fixture_files("sla_timers.bpmn"), OWNER)
    for n in range(3):
        engine.instances.start("inbox_triage", {}, ALICE, business_key=f"INC_{n}")
        engine.instances.start("approval", {"title": f"laptop {n}", "amount": 5}, ALICE, business_key=f"REQ-{n}")
        engine.instances.start("awaits_payment", {"order_no": f"A-{n}"}, ALICE, business_key=f"BK-{n}")
        engine.instances.start("sla_timers", {}, ALICE)
    engine.instances.start("inbox_dispatch", {"handler": "bob", "users": "", "groups": "", "priority": 10,
                                              "due": "2031-01-01T00:00:00Z"}, ALICE, business_key="CHG-1")
    engine.tasks.complete(_open_task(engine, "inbox_dispatch"), {}, BOB)
    engine.instances.cancel(_case(engine, "inbox_triage"), ALICE)
    engine.mailer._send = lambda *args, **kwargs: None  # type: ignore[method-assign]


# -- recording statements ------------------------------------------------------------------------------


@contextmanager
def recorded(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, Any]]]:
    """Every statement (in the driver's own parameter style) and its parameters sent while inside."""
    seen: list[tuple[str, Any]] = []

    def listener(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters[0] if many and parameters else parameters))

    engines = {engine.db.read_engine, engine.db.write_engine}
    for e in engines:
        event.listen(e, "before_cursor_execute", listener)
    real = fast_module.FastSQL

    def wrap(name: str) -> None:
        method = getattr(real, name)

        def recording(self: Any, session: Any, sql: str, params: Any = None) -> Any:
            # Only this engine's statements: the class is patched, and other engines may be running in
            # threads of the same process (the browser tests' live server has a worker thread).
            first = (params[0] if params else None) if name == "execute_many" else params
            if self is engine.db.fast and (name != "execute_many" or params):
                seen.append((sql if self.is_sqlite else fast_module._pyformat(sql), first or {}))
            return method(self, session, sql, params)

        monkeypatch.setattr(real, name, recording)

    for name in ("fetch", "execute", "execute_many"):
        wrap(name)
    try:
        yield seen
    finally:
        monkeypatch.undo()
        for e in engines:
            event.remove(e, "before_cursor_execute", listener)


EXPLAINED = re.compile(r"^\s*(SELECT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)


def explained(seen: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The statements worth a plan (reads, and the WHERE of updates and deletes), each once."""
    unique: dict[str, Any] = {}
    for sql, params in seen:
        if EXPLAINED.match(sql) and sql not in unique:
            unique[sql] = params
    return list(unique.items())


# -- SQLite plans -------------------------------------------------------------------------------------

_SQLITE_ACCESS = re.compile(r"^(SCAN|SEARCH) (\w+)(?: AS \w+)?(?: USING (?:COVERING )?INDEX (\w+))?")


def sqlite_plan(engine: Engine, sql: str, params: Any) -> list[str]:
    raw = engine.db.read_engine.raw_connection()
    try:
        return [row[3] for row in raw.driver_connection.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
    finally:
        raw.close()


def sqlite_problems(plan: list[str], scans: tuple[str, ...] = ()) -> tuple[list[str], set[str]]:
    """(accesses of growing tables without an index condition, the indexes used)."""
    bad, used = [], set()
    for line in plan:
        m = _SQLITE_ACCESS.match(line)
        if not m:
            continue
        how, table, index = m.groups()
        if index:
            used.add(index)
        if table in GROWING and how == "SCAN" and table not in scans and not (index and index.endswith("_pending")):
            bad.append(line)
    return bad, used


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    from engine.settings import Settings
    from tests.conftest import FIXTURES

    url = f"sqlite:///{tmp_path_factory.mktemp('plans') / 'plans.db'}"
    engine = Engine(Settings(database_url=url, forms_dir=str(FIXTURES / "forms"), smtp_host="smtp.invalid"))
    engine.migrate()
    populate(engine)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def ids(populated: Engine) -> dict[str, str]:
    return ids_of(populated)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_statement_of_a_use_case_reads_through_an_index(populated: Engine, ids: dict[str, str], case: Case,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with recorded(populated, monkeypatch) as seen:
        case.run(populated, ids)
    statements = explained(seen)
    assert statements, "the use case sent no statement"
    used: set[str] = set()
    report = []
    for sql, params in statements:
        plan = sqlite_plan(populated, sql, params)
        bad, names = sqlite_problems(plan, case.scans)
        used |= names
        if bad:
            report.append(f"{sql}\n  -> {bad}")
    assert not report, "reads without an index:\n" + "\n".join(report)
    assert set(case.indexes) <= used, f"expected {case.indexes}, plans used {sorted(used)}"


def test_seeing_one_case_reads_that_case_not_all_cases_of_the_actors_groups(populated: Engine, ids: dict[str, str],
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The visibility check of one case probes that case's tasks; gathering every case offered to the actor's
    groups (the case list's union) would cost as much as the groups' open tasks, on every case page."""
    with recorded(populated, monkeypatch) as seen:
        populated.instances.get(ids["approval_case"], CAROL)  # offered to her group, not started by her
    plans = [line for sql, params in explained(seen) for line in sqlite_plan(populated, sql, params)]
    assert any("ix_human_task_instance" in line for line in plans)
    assert not [line for line in plans if "UNION" in line or "ix_human_task_candidate_lookup" in line], plans


def test_the_index_set_is_the_one_the_plans_rely_on(populated: Engine) -> None:
    """The indexes of the hot tables, exactly: adding one costs every step a write, so it needs a query."""
    raw = populated.db.read_engine.raw_connection()
    try:
        rows = raw.driver_connection.execute(
            "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_%' "
            "AND tbl_name IN ('human_task', 'engine_task', 'audit_event', 'notification')").fetchall()
    finally:
        raw.close()
    assert sorted(rows) == sorted(EXPECTED_HOT_INDEXES)


EXPECTED_HOT_INDEXES = [
    ("audit_event", "ix_audit_event_actor"),
    ("audit_event", "ix_audit_event_instance"),
    ("audit_event", "ix_audit_event_occurred"),
    ("audit_event", "ix_audit_event_type"),
    ("human_task", "ix_human_task_assignee_state"),
    ("human_task", "ix_human_task_instance"),
    ("human_task", "ix_human_task_key_state"),
    ("human_task", "ix_human_task_state_created"),
    ("notification", "ix_notification_email_pending"),
    ("notification", "ix_notification_recipient"),
]
