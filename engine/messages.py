"""Messages from outside: deliver to the one case waiting for it, or start a case with a message start event.

Correlation: every `correlation` entry must equal the waiting case's variable of that name
(`business_key` matches the case's business key). The message's data reaches the case as one
variable named after the message (`payment_received["amount"]`), so a sender can never overwrite
the case's own variables. With an `Idempotency-Key`, a retried delivery returns the first answer and
has no further effect.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .audit import AuditLog
from .cases import CaseStore
from .db.models import MessageReceipt, ProcessDefinition
from .db.session import Database
from .db.types import utcnow
from .errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from .instances import InstanceService, record_new_tasks
from .records import latest_definition
from .steps import StepContext, StepRunner
from .views import Actor, AuditType, MessageResult, Role


def _correlates(case_data: dict[str, Any], business_key: str | None, correlation: dict[str, Any]) -> bool:
    for name, value in correlation.items():
        actual = business_key if name == "business_key" else case_data.get(name)
        if actual != value:
            return False
    return True


class _Replayed(Exception):
    """A delivery with the same Idempotency-Key committed first: found inside this one's transaction, which
    is therefore rolled back (not an OpsflowError: nothing failed, so no incident is recorded)."""


class MessageService:
    def __init__(self, db: Database, store: CaseStore, steps: StepRunner, audit: AuditLog,
                 instances: InstanceService) -> None:
        self.db = db
        self.store = store
        self.steps = steps
        self.audit = audit
        self.instances = instances

    def deliver(self, name: str, correlation: dict[str, Any], data: dict[str, Any], actor: Actor, *,
                idempotency_key: str | None = None) -> MessageResult:
        """Deliver a message. Raises NotFound (nothing waits and nothing starts on it), Conflict (several
        cases correlate), PermissionDenied, ValidationFailed, ScriptError/EngineError (incident)."""
        if not actor.has_role(Role.STAFF, Role.ADMIN):
            raise PermissionDenied("sending messages needs the staff or admin role")
        if not name:
            raise ValidationFailed("a message needs a name", {"name": ["required"]})
        if idempotency_key:
            earlier = self._receipt(idempotency_key)
            if earlier is not None:
                return self._replay(earlier, name, idempotency_key)
        try:
            return self._deliver_new(name, correlation, data, actor, idempotency_key)
        except (_Replayed, NotFound, Conflict):
            # Two deliveries with one key at the same moment: both saw no receipt; the one that committed
            # first is the answer, and the other's effects were rolled back (or, when the first moved the
            # case on, it found nothing waiting any more).
            earlier = self._receipt(idempotency_key) if idempotency_key else None
            if earlier is None:
                raise
            return self._replay(earlier, name, idempotency_key or "")

    @staticmethod
    def _replay(earlier: MessageReceipt, name: str, key: str) -> MessageResult:
        if earlier.message_name != name:
            raise Conflict(f"Idempotency-Key {key!r} was already used for message {earlier.message_name!r}")
        return MessageResult(**earlier.result)

    def _deliver_new(self, name: str, correlation: dict[str, Any], data: dict[str, Any], actor: Actor,
                     key: str | None) -> MessageResult:
        waiting = self._waiting_cases(name, correlation)
        if len(waiting) > 1:
            raise Conflict(f"message {name!r} correlates with {len(waiting)} waiting cases; "
                           "add correlation values that single one out")
        if waiting:
            instance_id, task_id = waiting[0]
            return self._deliver_to(instance_id, task_id, name, correlation, data, actor, key)
        return self._start_with(name, correlation, data, actor, key)

    def _receipt(self, key: str) -> MessageReceipt | None:
        with self.db.reading() as session:
            return session.get(MessageReceipt, key)

    def _waiting_cases(self, name: str, correlation: dict[str, Any]) -> list[tuple[str, str]]:
        fast = self.db.fast
        with self.db.reading() as session:
            waits = fast.fetch(
                session, "SELECT w.instance_id, w.task_id, i.data, i.business_key FROM message_wait w "
                "JOIN process_instance i ON i.id = w.instance_id "
                "WHERE w.message_name = :name AND i.state IN ('running', 'waiting') ORDER BY w.instance_id",
                {"name": name})
        return [(w["instance_id"], w["task_id"]) for w in waits
                if _correlates(fast.load_json(w["data"]) or {}, w["business_key"], correlation)]

    @staticmethod
    def _unused(session: Any, key: str | None) -> None:
        """Inside the delivery's transaction (after the case lock): has a delivery with this key committed?"""
        if key and session.get(MessageReceipt, key) is not None:
            raise _Replayed

    def _remember(self, session: Any, key: str | None, name: str, result: MessageResult, actor: Actor) -> None:
        if not key:
            return
        self._unused(session, key)
        session.add(MessageReceipt(idempotency_key=key, message_name=name, instance_id=result.instance_id,
                                   result=asdict(result), received_by=actor.username, received_at=utcnow()))
        try:
            session.flush()  # on PostgreSQL this waits for a concurrent delivery with the key, then fails
        except IntegrityError as exc:
            raise _Replayed from exc

    def _deliver_to(self, instance_id: str, task_id: str, name: str, correlation: dict[str, Any],
                    data: dict[str, Any], actor: Actor, key: str | None) -> MessageResult:
        def action(ctx: StepContext) -> MessageResult:
            self._unused(ctx.session, key)
            self.store.runtime.deliver_message(ctx.live.workflow, task_id, name, data)
            outcome = self.store.inspect(ctx.live, ctx.now)
            self.audit.record(ctx.session, AuditType.MESSAGE_RECEIVED, actor=actor.username, instance_id=ctx.row.id,
                              definition_id=ctx.row.definition_id, process_key=ctx.row.process_key,
                              data={"name": name, "correlation": correlation, "data": data})
            new_tasks = self.store.save(ctx.session, ctx.row, ctx.live, outcome, ctx.now)
            record_new_tasks(self.audit, ctx.session, ctx.row, new_tasks, actor.username)
            result = MessageResult(ctx.row.id, False, ctx.row.state)
            self._remember(ctx.session, key, name, result, actor)
            return result

        return self.steps.run(instance_id, actor.username, action)

    def _start_with(self, name: str, correlation: dict[str, Any], data: dict[str, Any], actor: Actor,
                    key: str | None) -> MessageResult:
        starts = self._processes_started_by(name)
        if not starts:
            described = f" with correlation {correlation}" if correlation else ""
            raise NotFound(f"no case waits for message {name!r}{described}, and no process starts on it")
        if len(starts) > 1:
            raise Conflict(f"message {name!r} starts several processes ({', '.join(starts)})")
        business_key = correlation.get("business_key")
        view = self.instances.start_on_message(starts[0], name, data, actor,
                                               business_key=str(business_key) if business_key else None,
                                               remember=lambda session, result: self._remember(session, key, name,
                                                                                               result, actor))
        return MessageResult(view.id, True, view.state)

    def _processes_started_by(self, name: str) -> list[str]:
        with self.db.reading() as session:
            keys = sorted(set(session.execute(select(ProcessDefinition.key)).scalars()))
            found = []
            for key in keys:
                definition = latest_definition(self.db.fast, session, key)
                compiled = self.store.compiled_for(session, definition)
                if name in compiled.start_messages:
                    found.append(key)
            return found

