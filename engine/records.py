"""The hot tables, read and written through `FastSQL` (see engine/db/fast.py for why)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from .db.fast import FastSQL
from .errors import Conflict, NotFound

CASE_JSON = ("data", "completed_elements", "active_elements")
CASE_TIMES = ("started_at", "ended_at", "updated_at")
TASK_JSON = ("candidate_users", "candidate_groups", "properties", "submitted_data")
TASK_TIMES = ("due_at", "created_at", "claimed_at", "completed_at")
TASK_COLUMNS = (
    "id",
    "instance_id",
    "definition_id",
    "process_key",
    "business_key",
    "element_id",
    "name",
    "form_key",
    "lane",
    "assignee",
    "candidate_users",
    "candidate_groups",
    "properties",
    "priority",
    "due_at",
    "created_at",
    "state",
    "claimed_at",
    "completed_by",
    "completed_at",
    "submitted_data",
)


class Row(dict[str, Any]):
    """A fetched row with attribute access (`row.state`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


@dataclass
class CaseRecord:
    """One process_instance row."""

    id: str
    number: int  # 1, 2, 3, ... in start order (next_case_number); the key of its task rows
    definition_id: int
    process_key: str
    business_key: str | None
    state: str
    started_by: str
    started_at: datetime
    ended_at: datetime | None
    updated_at: datetime
    version: int
    data: Any
    completed_elements: list[str]
    active_elements: list[str]
    engine_header: str
    next_task_seq: int
    # The columns as last read or written (driver values): write_case sets only what differs from them.
    stored: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CASE_COLUMNS}


CASE_COLUMNS = tuple(f.name for f in fields(CaseRecord) if f.name != "stored")
_CASE_SELECT = f"SELECT {', '.join(CASE_COLUMNS)} FROM process_instance WHERE id = :id"
_CASE_INSERT = (
    f"INSERT INTO process_instance ({', '.join(CASE_COLUMNS)}) VALUES ({', '.join(':' + c for c in CASE_COLUMNS)})"
)
_CASE_WRITABLE = tuple(c for c in CASE_COLUMNS if c not in ("id", "number", "version"))


@lru_cache(maxsize=256)
def _case_update(columns: tuple[str, ...]) -> str:
    return (
        "UPDATE process_instance SET "
        + "".join(f"{c} = :{c}, " for c in columns)
        + "version = :new_version WHERE id = :id AND version = :version"
    )
_TASK_SELECT = f"SELECT {', '.join(TASK_COLUMNS)} FROM human_task"
_TASK_INSERT = f"INSERT INTO human_task ({', '.join(TASK_COLUMNS)}) VALUES ({', '.join(':' + c for c in TASK_COLUMNS)})"


def _case_params(fast: FastSQL, record: CaseRecord) -> dict[str, Any]:
    params = record.values()
    for name in CASE_JSON:
        params[name] = fast.json(params[name])
    for name in CASE_TIMES:
        params[name] = fast.ts(params[name])
    return params


def read_case(fast: FastSQL, session: Session, instance_id: str, *, lock: bool = False) -> CaseRecord:
    """The case row; `lock` takes the row lock (FOR UPDATE on PostgreSQL) for a write. Raises NotFound."""
    sql = _CASE_SELECT + (" FOR UPDATE" if lock and not fast.is_sqlite else "")
    rows = fast.fetch(session, sql, {"id": instance_id})
    if not rows:
        raise NotFound(f"case {instance_id} does not exist", reason="case_not_found")
    return _case_record(fast, rows[0])


def _case_record(fast: FastSQL, raw: dict[str, Any]) -> CaseRecord:
    """A process_instance row as the driver returned it, decoded; the raw values kept for write_case."""
    values = dict(raw)
    for name in CASE_JSON:
        values[name] = fast.load_json(values[name])
    for name in CASE_TIMES:
        values[name] = fast.load_ts(values[name])
    return CaseRecord(**values, stored=raw)


def next_case_number(fast: FastSQL, session: Session) -> int:
    """The number of a case about to be inserted (in its start transaction)."""
    if fast.is_sqlite:  # a write transaction holds the database's write lock from BEGIN IMMEDIATE on
        sql = "SELECT COALESCE(MAX(number), 0) + 1 AS n FROM process_instance"
    else:
        sql = "SELECT nextval('process_instance_number_seq') AS n"
    return int(fast.fetch(session, sql)[0]["n"])


def insert_case(fast: FastSQL, session: Session, record: CaseRecord) -> None:
    params = _case_params(fast, record)
    fast.send(session, _CASE_INSERT, params)
    record.stored = params


def write_case(fast: FastSQL, session: Session, record: CaseRecord) -> None:
    """Write the record if its stored version is still the one read; bumps the version. Raises Conflict.

    Only the columns that differ from the stored ones are set: SQLite rewrites the entries of every index
    over a column named in SET, changed or not, and most of a step's columns (key, starter, definition) never
    change. A value the driver hands back differently (JSON on PostgreSQL) simply counts as changed."""
    params = _case_params(fast, record)
    stored = record.stored
    changed = tuple(c for c in _CASE_WRITABLE if stored is None or c not in stored or stored[c] != params[c])
    update = {c: params[c] for c in changed}
    update.update(id=record.id, version=record.version, new_version=record.version + 1)
    if fast.execute(session, _case_update(changed), update) != 1:
        raise Conflict(f"case {record.id} was changed by someone else; reload and try again")
    record.version += 1
    params["version"] = record.version
    record.stored = params


def _task_row(fast: FastSQL, raw: dict[str, Any]) -> Row:
    for name in TASK_JSON:
        raw[name] = fast.load_json(raw[name])
    for name in TASK_TIMES:
        raw[name] = fast.load_ts(raw[name])
    return Row(raw)


def read_task(fast: FastSQL, session: Session, task_id: str, *, lock: bool = False) -> Row:
    """A human_task row. Raises NotFound."""
    sql = _TASK_SELECT + " WHERE id = :id" + (" FOR UPDATE" if lock and not fast.is_sqlite else "")
    rows = fast.fetch(session, sql, {"id": task_id})
    if not rows:
        raise NotFound(f"task {task_id} does not exist", reason="task_not_found")
    return _task_row(fast, rows[0])


@dataclass(frozen=True)
class CaseRef:
    """A case by id at the version a statement saw (its row itself not decoded)."""

    id: str
    version: int


_TASK_AND_VERSION_SELECT = (
    "SELECT " + ", ".join(f"t.{c}" for c in TASK_COLUMNS) + ", p.version AS case_version"
    + " FROM human_task t JOIN process_instance p ON p.id = t.instance_id WHERE t.id = :id"
)


def read_task_and_case_version(fast: FastSQL, session: Session, task_id: str) -> tuple[Row, CaseRef]:
    """A human_task row and its case's current version, in one statement. Raises NotFound.

    SQLite only: its write transaction holds the database's write lock from BEGIN IMMEDIATE on, so the
    version read here is the locked row's (PostgreSQL must take the row lock first, see read_case).
    A step whose live case is cached at that version needs nothing more of the case row."""
    assert fast.is_sqlite
    rows = fast.fetch(session, _TASK_AND_VERSION_SELECT, {"id": task_id})
    if not rows:
        raise NotFound(f"task {task_id} does not exist", reason="task_not_found")
    raw = rows[0]
    version = raw.pop("case_version")
    return _task_row(fast, raw), CaseRef(raw["instance_id"], version)


def open_tasks(fast: FastSQL, session: Session, instance_id: str) -> list[Row]:
    rows = fast.fetch(
        session,
        _TASK_SELECT + " WHERE instance_id = :id AND state IN ('open', 'claimed') ORDER BY created_at, element_id",
        {"id": instance_id},
    )
    return [_task_row(fast, r) for r in rows]


def write_task(fast: FastSQL, session: Session, task_id: str, **values: Any) -> None:
    params = {}
    for name, value in values.items():
        params[name] = fast.json(value) if name in TASK_JSON else fast.ts(value) if name in TASK_TIMES else value
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    fast.send(session, f"UPDATE human_task SET {assignments} WHERE id = :task_id", {**params, "task_id": task_id})


def insert_tasks(fast: FastSQL, session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert human_task rows (the dicts are left as they are)."""
    params = []
    for row in rows:
        values = dict(row)
        for name in TASK_JSON:
            values[name] = fast.json(values[name])
        for name in TASK_TIMES:
            values[name] = fast.ts(values[name])
        params.append(values)
    fast.execute_many(session, _TASK_INSERT, params)


def latest_definition(fast: FastSQL, session: Session, key: str) -> Row | None:
    """The newest deployed version of a process key (id, key, version, name, content_hash, start_form_key)."""
    rows = fast.fetch(
        session,
        "SELECT id, key, version, name, content_hash, start_form_key FROM process_definition "
        "WHERE key = :key ORDER BY version DESC LIMIT 1",
        {"key": key},
    )
    return Row(rows[0]) if rows else None
