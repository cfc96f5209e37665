"""The tamper-evident audit trail.

Events recorded during a unit of work are buffered on the session and
appended, chained, just before the transaction commits: each event's hash
covers its content and the previous event's hash, and a one-row head holds the
last id, hash and count, so an altered, inserted or deleted event (the last
one included) is detected by `verify()`. Appending locks the head row, which
also gives events consecutive ids in commit order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from .db.fast import FastSQL
from .db.models import AuditEvent, AuditHead
from .db.paging import page_of
from .db.types import utcnow
from .views import AuditEventView, AuditType, Page, VerifyResult

GENESIS = "0" * 64
EVENT = AuditEvent.__table__
HEAD = AuditHead.__table__
_PENDING = "opsflow_audit_pending"


# Encoders built once (json.dumps builds one per call); their output is exactly json.dumps' with these options.
_DATA_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
_HASH_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _canonical_json(value: Any) -> str:
    """Event data as stored and hashed: sorted keys, dates and decimals as strings."""
    return _DATA_ENCODER.encode(value)


_HASHED = ("id", "type", "actor", "instance_id", "task_id", "definition_id", "process_key", "data", "prev_hash")

# The hashed content is _HASH_ENCODER's output for the _HASHED fields and the ISO time. It is written for
# every event of every step, so it is built here as text (keys in sorted order, each string through the
# encoder's own string escaping): the same bytes as the encoder gives, for the value types events have
# (text or null, whole numbers or null); anything else goes through the encoder itself.
_TEMPLATE = (
    '{"actor":%s,"data":%s,"definition_id":%s,"id":%s,"instance_id":%s,"occurred_at":%s,"prev_hash":%s,'
    '"process_key":%s,"task_id":%s,"type":%s}'
)
_TEXT = frozenset({str, type(None)})
_NUMBER = frozenset({int, type(None)})


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def _canonical(event: Any) -> bytes:
    """The hashed content of an event (a stored row or a pending dict)."""
    fields: dict[str, Any] = event if isinstance(event, dict) else {n: getattr(event, n) for n in (*_HASHED, "occurred_at")}
    actor, data, instance_id, prev_hash = fields["actor"], fields["data"], fields["instance_id"], fields["prev_hash"]
    process_key, task_id, kind = fields["process_key"], fields["task_id"], fields["type"]
    definition_id, event_id = fields["definition_id"], fields["id"]
    if (
        {type(actor), type(data), type(instance_id), type(prev_hash), type(process_key), type(task_id), type(kind)}
        <= _TEXT and {type(definition_id), type(event_id)} <= _NUMBER
    ):
        text = _TEMPLATE % (
            _text(actor), _text(data), "null" if definition_id is None else int.__repr__(definition_id),
            "null" if event_id is None else int.__repr__(event_id), _text(instance_id),
            encode_basestring(fields["occurred_at"].isoformat()), _text(prev_hash), _text(process_key),
            _text(task_id), _text(kind),
        )
    else:
        payload = {name: fields[name] for name in _HASHED}
        payload["occurred_at"] = fields["occurred_at"].isoformat()
        text = _HASH_ENCODER.encode(payload)
    return text.encode("utf-8")


class AuditLog:
    """Records, chains, queries and verifies audit events."""

    def __init__(self, fast: FastSQL, key: str = "") -> None:
        self.fast = fast
        self._key = key.encode("utf-8")
        self._head: tuple[int, str] | None = None  # (last id, last hash) as this process last wrote them

    def digest(self, event: Any) -> str:
        content = _canonical(event)
        if self._key:
            return hmac.new(self._key, content, hashlib.sha256).hexdigest()
        return hashlib.sha256(content).hexdigest()

    # -- writing ----------------------------------------------------------------

    def record(
        self,
        session: Session,
        type: AuditType,
        *,
        actor: str | None,
        instance_id: str | None = None,
        task_id: str | None = None,
        definition_id: int | None = None,
        process_key: str | None = None,
        data: Any = None,
        at: datetime | None = None,
    ) -> None:
        """Buffer an event; it is chained and written when the session commits."""
        session.info.setdefault(_PENDING, []).append(
            {
                "occurred_at": (at or utcnow()).astimezone(UTC),
                "type": str(type),
                "actor": actor,
                "instance_id": instance_id,
                "task_id": task_id,
                "definition_id": definition_id,
                "process_key": process_key,
                "data": _canonical_json(data if data is not None else {}),
            }
        )

    def flush_pending(self, session: Session) -> None:
        """`before_commit` hook: chain and insert the buffered events under the head lock.

        The head this process last wrote is assumed current, and the head's update checks that it is (so
        it also takes the head's lock); when another writer moved it, or that write was rolled back, the
        update changes nothing and the head is read under its lock and the events chained again."""
        pending: list[dict[str, Any]] = session.info.pop(_PENDING, [])
        if not pending:
            return
        fast = self.fast
        head = self._head
        if head is None or not self._append_head(session, pending, head, guarded=True):
            lock = "" if fast.is_sqlite else " FOR UPDATE"
            row = fast.fetch(session, "SELECT last_event_id, last_hash FROM audit_head WHERE id = 1" + lock)[0]
            head = (row["last_event_id"], row["last_hash"])
            self._append_head(session, pending, head, guarded=False)
        fast.execute_many(
            session,
            "INSERT INTO audit_event (id, occurred_at, type, actor, instance_id, task_id, definition_id, process_key, "
            "data, prev_hash, hash) VALUES (:id, :occurred_at, :type, :actor, :instance_id, :task_id, :definition_id, "
            ":process_key, :data, :prev_hash, :hash)",
            [{**event, "occurred_at": fast.ts(event["occurred_at"])} for event in pending],
        )

    def _append_head(self, session: Session, pending: list[dict[str, Any]], head: tuple[int, str], *,
                     guarded: bool) -> bool:
        """Chain `pending` after `head` and move the head past them; False (nothing written) when `guarded`
        and the stored head is no longer `head`."""
        last_id, last_hash = head
        for event in pending:
            event["id"], event["prev_hash"] = last_id + 1, last_hash
            event["hash"] = self.digest(event)
            last_id, last_hash = event["id"], event["hash"]
        sql = "UPDATE audit_head SET last_event_id = :id, last_hash = :hash, count = count + :n WHERE id = 1"
        params: dict[str, Any] = {"id": last_id, "hash": last_hash, "n": len(pending)}
        if guarded:
            sql += " AND last_event_id = :was_id AND last_hash = :was_hash"
            params.update(was_id=head[0], was_hash=head[1])
        if self.fast.execute(session, sql, params) != 1:
            return False
        self._head = (last_id, last_hash)  # if this transaction rolls back, the next guarded update misses
        return True

    # -- reading ----------------------------------------------------------------

    def query(
        self,
        session: Session,
        *,
        instance_id: str | None = None,
        actor: str | None = None,
        type: str | None = None,
        process_key: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> Page[AuditEventView]:
        stmt = self.filtered(instance_id=instance_id, actor=actor, type=type, process_key=process_key,
                             since=since, until=until)
        return page_of(session, stmt, (AuditEvent.id,), page, per_page, self.view)

    @staticmethod
    def filtered(*, instance_id: str | None = None, actor: str | None = None, type: str | None = None,
                 process_key: str | None = None, since: datetime | None = None,
                 until: datetime | None = None) -> Select[AuditEvent]:
        """The events matching the filters (unset filters match everything)."""
        stmt = select(AuditEvent)
        for column, value in ((AuditEvent.instance_id, instance_id), (AuditEvent.actor, actor),
                              (AuditEvent.type, type), (AuditEvent.process_key, process_key)):
            if value:
                stmt = stmt.where(column == value)
        if since:
            stmt = stmt.where(AuditEvent.occurred_at >= since)
        if until:
            stmt = stmt.where(AuditEvent.occurred_at < until)
        return stmt

    @staticmethod
    def view(row: AuditEvent) -> AuditEventView:
        return AuditEventView(
            id=row.id,
            type=row.type,
            occurred_at=row.occurred_at,
            actor=row.actor,
            instance_id=row.instance_id,
            task_id=row.task_id,
            definition_id=row.definition_id,
            process_key=row.process_key,
            data=json.loads(row.data),
            hash=row.hash,
            prev_hash=row.prev_hash,
        )

    def verify(self, session: Session, batch: int = 2000) -> VerifyResult:
        """Walk the whole chain; report the first event that was altered, inserted or deleted.

        The chain is walked to its end, then the head read: events and head are written in one transaction,
        so events appended meanwhile (PostgreSQL reads what others committed since) come with a newer head,
        and the walk goes on to it; an event beyond the head is one the head does not know of."""
        expected_prev, expected_id, checked = GENESIS, 1, 0
        while True:
            walked = checked
            for event in self._walk(session, batch, after=expected_id - 1):
                if event.id != expected_id:
                    return VerifyResult(False, checked, expected_id, f"event {expected_id} is missing")
                if event.prev_hash != expected_prev:
                    return VerifyResult(False, checked, event.id, "does not follow the previous event (link broken)")
                if not hmac.compare_digest(self.digest(event), event.hash):
                    return VerifyResult(False, checked, event.id, "content does not match its hash (altered)")
                expected_prev, expected_id = event.hash, event.id + 1
                checked += 1
            last_id, last_hash, count = session.execute(
                select(AuditHead.last_event_id, AuditHead.last_hash, AuditHead.count).where(AuditHead.id == 1)
            ).one()
            if last_id <= expected_id - 1 or checked == walked:
                break  # walked all the head knows of (or nothing more is there: events are missing at the end)
        if checked != count or expected_prev != last_hash:
            return VerifyResult(
                False, checked, expected_id, f"the trail ends after {checked} events but {count} were written"
            )
        return VerifyResult(True, checked)

    @staticmethod
    def _walk(session: Session, batch: int, after: int = 0) -> Iterator[AuditEvent]:
        last = after
        while True:
            rows = list(
                session.execute(
                    select(AuditEvent).where(AuditEvent.id > last).order_by(AuditEvent.id).limit(batch)
                ).scalars()
            )
            if not rows:
                return
            yield from rows
            last = rows[-1].id
            session.expunge_all()
