"""Reading the audit trail: auditors and admins; a case's own timeline also for the people in it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from .access import check_can_see_case
from .audit import AuditLog
from .db.models import AuditEvent
from .db.session import Database
from .errors import PermissionDenied
from .records import read_case
from .views import Actor, AuditEventView, Page, Role, VerifyResult

EXPORT_BATCH = 500
TIMELINE_LIMIT = 1000


def _check(actor: Actor, action: str) -> None:
    if not actor.has_role(Role.AUDITOR, Role.ADMIN):
        raise PermissionDenied(f"{action} needs the auditor or admin role")


class AuditTrailService:
    """Filtered, paged and streamed reads of the audit trail, and its verification."""

    def __init__(self, db: Database, audit: AuditLog) -> None:
        self.db = db
        self.audit = audit

    def events(self, actor: Actor, *, page: int = 1, per_page: int = 50, instance_id: str | None = None,
               user: str | None = None, type: str | None = None, process_key: str | None = None,
               since: datetime | None = None, until: datetime | None = None) -> Page[AuditEventView]:
        """One page of matching events, oldest first. Raises PermissionDenied."""
        _check(actor, "reading the audit trail")
        with self.db.reading() as session:
            return self.audit.query(session, instance_id=instance_id, actor=user, type=type,
                                    process_key=process_key, since=since, until=until, page=page, per_page=per_page)

    def case_timeline(self, instance_id: str, actor: Actor) -> list[AuditEventView]:
        """A case's events, oldest first, for anyone who may see the case. Raises NotFound, PermissionDenied."""
        with self.db.reading() as session:
            check_can_see_case(session, read_case(self.db.fast, session, instance_id), actor)
            return self.audit.query(session, instance_id=instance_id, per_page=TIMELINE_LIMIT).items

    def stream(self, actor: Actor, *, instance_id: str | None = None, user: str | None = None,
               type: str | None = None, process_key: str | None = None, since: datetime | None = None,
               until: datetime | None = None) -> Iterator[AuditEventView]:
        """Every matching event, oldest first, read in id-ordered batches. Checks permission before streaming."""
        _check(actor, "exporting the audit trail")

        def generate() -> Iterator[AuditEventView]:
            after = 0
            while True:
                with self.db.reading() as session:
                    stmt = self.audit.filtered(instance_id=instance_id, actor=user, type=type,
                                               process_key=process_key, since=since, until=until)
                    stmt = stmt.where(AuditEvent.id > after)
                    rows = list(session.execute(stmt.order_by(AuditEvent.id).limit(EXPORT_BATCH)).scalars())
                    batch = [self.audit.view(r) for r in rows]
                yield from batch
                if len(batch) < EXPORT_BATCH:
                    return
                after = batch[-1].id

        return generate()

    def verify(self, actor: Actor) -> VerifyResult:
        _check(actor, "verifying the audit trail")
        with self.db.reading() as session:
            return self.audit.verify(session)
