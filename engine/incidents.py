"""Incidents: failures recorded on cases, for administrators to see and resolve.

(Retrying the failed work of a background job belongs to the job runner.)
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .audit import AuditLog
from .db.models import Incident
from .db.paging import page_of
from .db.session import Database
from .db.types import utcnow
from .errors import Conflict, NotFound, PermissionDenied
from .views import Actor, AuditType, IncidentView, Page, Role


def incident_view(row: Incident) -> IncidentView:
    return IncidentView(
        id=row.id, instance_id=row.instance_id, process_key=row.process_key, element_id=row.element_id,
        error_type=row.error_type, message=row.message, details=row.details, state=row.state,
        created_at=row.created_at, resolved_by=row.resolved_by, resolved_at=row.resolved_at,
    )


def _locked(session: Session, incident_id: int) -> Incident:
    row = session.get(Incident, incident_id, with_for_update=True) if 0 < incident_id < 2**63 else None
    if row is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return row


def _require_admin(actor: Actor) -> None:
    if not actor.has_role(Role.ADMIN):
        raise PermissionDenied("managing incidents needs the admin role")


class IncidentService:
    def __init__(self, db: Database, audit: AuditLog) -> None:
        self.db = db
        self.audit = audit

    def list(self, actor: Actor, *, state: str | None = "open", instance_id: str | None = None,
             process_key: str | None = None, page: int = 1, per_page: int = 50) -> Page[IncidentView]:
        """Incidents, newest first (admins). Raises PermissionDenied."""
        _require_admin(actor)
        stmt = select(Incident)
        if state:
            stmt = stmt.where(Incident.state == state)
        if instance_id:
            stmt = stmt.where(Incident.instance_id == instance_id)
        if process_key:
            stmt = stmt.where(Incident.process_key == process_key)
        with self.db.reading() as session:
            return page_of(session, stmt, (Incident.created_at.desc(), Incident.id.desc()), page, per_page,
                           incident_view)

    def retry(self, incident_id: int, actor: Actor) -> IncidentView:
        """Put the background job behind an incident back in the queue (admins); the incident is marked retried.

        Raises PermissionDenied, NotFound, Conflict (not open, or it came from a person's action: they retry it).
        """
        _require_admin(actor)
        with self.db.transaction() as session:
            row = _locked(session, incident_id)
            if row.state != "open":
                raise Conflict(f"incident {incident_id} is already {row.state}")
            requeue = "UPDATE job SET attempts = 0, locked_by = NULL, locked_until = NULL, last_error = NULL "
            requeue += ("WHERE task_id = :task_id AND instance_id IS NULL" if row.instance_id is None  # a start's
                        else "WHERE task_id = :task_id AND instance_id = :instance_id")  # job has no case yet
            requeued = self.db.fast.execute(
                session, requeue, {"task_id": row.task_id, "instance_id": row.instance_id}
            ) if row.task_id else 0
            if not requeued:
                raise Conflict(f"incident {incident_id} has no background job to retry: it came from a person's "
                               "action, which they can simply try again")
            row.state, row.resolved_by, row.resolved_at = "retried", actor.username, utcnow()
            session.flush()
            self.audit.record(session, AuditType.INCIDENT_RETRIED, actor=actor.username, instance_id=row.instance_id,
                              definition_id=row.definition_id, process_key=row.process_key,
                              data={"incident_id": row.id, "task_id": row.task_id})
            return incident_view(row)

    def resolve(self, incident_id: int, actor: Actor, comment: str | None = None) -> IncidentView:
        """Mark an incident dealt with (admins). Raises PermissionDenied, NotFound, Conflict."""
        _require_admin(actor)
        with self.db.transaction() as session:
            row = _locked(session, incident_id)
            if row.state != "open":
                raise Conflict(f"incident {incident_id} is already {row.state}")
            row.state, row.resolved_by, row.resolved_at = "resolved", actor.username, utcnow()
            session.flush()
            self.audit.record(session, AuditType.INCIDENT_RESOLVED, actor=actor.username, instance_id=row.instance_id,
                              definition_id=row.definition_id, process_key=row.process_key,
                              data={"incident_id": row.id, "comment": comment})
            return incident_view(row)
