"""Running one step of a case as one unit of work, and recording failures as incidents."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .audit import AuditLog
from .cases import CaseStore, LiveCase
from .db.models import Incident, ProcessInstance
from .db.session import Database
from .db.types import utcnow
from .errors import EngineError, OpsflowError, ScriptError
from .records import CaseRecord, CaseRef
from .views import AuditType

log = logging.getLogger(__name__)
R = TypeVar("R")


@dataclass
class StepContext:
    session: Session
    row: CaseRecord
    live: LiveCase
    now: datetime


class StepRunner:
    """Lock the case, load it, run `action`, write; on a script or engine failure roll back and record an incident."""

    def __init__(self, db: Database, store: CaseStore, audit: AuditLog) -> None:
        self.db = db
        self.store = store
        self.audit = audit

    def run(self, instance_id: str | Callable[[Session], str | CaseRef], actor: str,
            action: Callable[[StepContext], R], *, record_incidents: bool = True) -> R:
        """`instance_id` may be a function that finds the case inside the transaction (e.g. from a task id);
        it may return, on SQLite (where the transaction holds the write lock), a CaseRef with the version
        it saw instead of the id.

        With `record_incidents=False` the caller decides (a job records one only after its last try)."""
        case_id: str | None = instance_id if isinstance(instance_id, str) else None
        try:
            with self.db.transaction() as session:
                found: str | CaseRef = case_id if case_id is not None else instance_id(session)  # type: ignore[operator]
                if isinstance(found, CaseRef):
                    case_id = found.id
                    row, live = self.store.load_current(session, found)
                else:
                    case_id, row = found, self.store.lock(session, found)
                    live = self.store.load(session, row)
                result = action(StepContext(session, row, live, utcnow()))
            self.store.committed(live)
            return result
        except (ScriptError, EngineError) as exc:
            if record_incidents:
                self.record_incident(exc, actor=actor, instance_id=case_id)
            raise
        except SQLAlchemyError as exc:
            log.exception("database error in a step of case %s", case_id, extra={"instance_id": case_id})
            if record_incidents:
                self.record_incident(exc, actor=actor, instance_id=case_id)
            raise

    def record_incident(
        self,
        exc: BaseException,
        *,
        actor: str,
        instance_id: str | None = None,
        process_key: str | None = None,
        definition_id: int | None = None,
        task_id: str | None = None,
    ) -> int | None:
        """Record a failure in its own transaction (the step's own transaction was rolled back)."""
        element_id = getattr(exc, "element_id", None)
        details = dict(exc.details) if isinstance(exc, OpsflowError) else {}
        error_type = f"script_{exc.kind}" if isinstance(exc, ScriptError) else type(exc).__name__
        message = str(exc) if isinstance(exc, OpsflowError) else "a database error interrupted the step"
        try:
            with self.db.transaction() as session:
                if instance_id and not process_key:
                    row = session.get(ProcessInstance, instance_id)
                    if row is not None:
                        process_key, definition_id = row.process_key, row.definition_id
                incident = Incident(
                    instance_id=instance_id,
                    definition_id=definition_id,
                    process_key=process_key,
                    task_id=task_id,
                    element_id=element_id,
                    error_type=error_type,
                    message=message,
                    details=details,
                    state="open",
                    created_at=utcnow(),
                )
                session.add(incident)
                session.flush()
                self.audit.record(
                    session,
                    AuditType.INCIDENT_CREATED,
                    actor=actor,
                    instance_id=instance_id,
                    task_id=task_id,
                    definition_id=definition_id,
                    process_key=process_key,
                    data={
                        "incident_id": incident.id,
                        "error_type": error_type,
                        "element_id": element_id,
                        "message": message,
                    },
                )
                return incident.id
        except SQLAlchemyError:
            log.exception("could not record an incident for case %s", instance_id)
            return None
