"""The inbox's actions: claim, unclaim, assign, complete; and reading one task."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .access import (
    OPEN_STATES,
    check_can_claim,
    check_can_complete,
    check_can_see_case,
    is_candidate,
    separation_of_duties_violation,
)
from .audit import AuditLog
from .db.session import Database
from .db.types import utcnow
from .errors import Conflict, PermissionDenied
from .forms import FormService
from .instances import ACTIVE, InstanceService, record_new_tasks
from .presenters import task_view
from .records import CaseRef, read_case, read_task, read_task_and_case_version, write_task
from .steps import StepContext, StepRunner
from .views import Actor, AuditType, InstanceState, InstanceView, Role, TaskState, TaskView


def task_not_open(task: Any) -> Conflict:
    """The refusal for acting on a task that was completed or cancelled meanwhile."""
    by = f" by {task.completed_by}" if task.completed_by else ""
    return Conflict(f"task '{task.name}' is no longer open: it was {task.state}{by}", reason="task_not_open",
                    params={"name": task.name, "state": task.state, "by": task.completed_by})


class TaskService:
    def __init__(
        self,
        db: Database,
        steps: StepRunner,
        audit: AuditLog,
        instances: InstanceService,
        forms: FormService | None = None,
    ) -> None:
        self.db = db
        self.steps = steps
        self.audit = audit
        self.instances = instances
        self.forms = forms

    def get(self, task_id: str, actor: Actor) -> tuple[TaskView, InstanceView]:
        """A task and its case, if the actor may see them. Raises NotFound, PermissionDenied."""
        with self.db.reading() as session:
            task = read_task(self.db.fast, session, task_id)
            row = read_case(self.db.fast, session, task.instance_id)
            # Offered to the actor and still open: theirs to work on. Once closed, a task shows its case only to
            # those who may see the case itself (being offered a task once is no lasting right to the case).
            if not (task.state in OPEN_STATES and (is_candidate(task, actor) or task.assignee == actor.username)):
                check_can_see_case(session, row, actor)
            return task_view(task), self.instances.view_of(session, row)

    def _audit(self, session: Session, kind: AuditType, task: Any, actor: Actor, data: Any = None) -> None:
        self.audit.record(
            session,
            kind,
            actor=actor.username,
            instance_id=task.instance_id,
            task_id=task.id,
            definition_id=task.definition_id,
            process_key=task.process_key,
            data={"element_id": task.element_id, "name": task.name, **(data or {})},
        )

    def claim(self, task_id: str, actor: Actor) -> TaskView:
        """Take an offered task. Raises NotFound, Conflict (taken or closed), PermissionDenied."""
        with self.db.transaction() as session:
            task = read_task(self.db.fast, session, task_id, lock=True)
            check_can_claim(task, actor)  # first: who may not claim it learns nothing of its state or assignee
            if task.state not in OPEN_STATES:
                raise task_not_open(task)
            if task.assignee and task.assignee != actor.username:
                raise Conflict(f"task '{task.name}' is already claimed by {task.assignee}",
                               reason="task_claimed_by_other", params={"name": task.name, "assignee": task.assignee})
            if task.assignee != actor.username:
                write_task(
                    self.db.fast,
                    session,
                    task_id,
                    assignee=actor.username,
                    state=TaskState.CLAIMED,
                    claimed_at=utcnow(),
                )
                self._audit(session, AuditType.TASK_CLAIMED, task, actor)
            return task_view(read_task(self.db.fast, session, task_id))

    def unclaim(self, task_id: str, actor: Actor) -> TaskView:
        """Give a claimed task back to its candidates (its assignee or an admin)."""
        with self.db.transaction() as session:
            task = read_task(self.db.fast, session, task_id, lock=True)
            if task.state != TaskState.CLAIMED:
                raise Conflict(f"task '{task.name}' is not claimed ({task.state})", reason="task_not_claimed",
                               params={"name": task.name, "state": task.state})
            if task.assignee != actor.username and not actor.has_role(Role.ADMIN):
                raise PermissionDenied(f"task '{task.name}' is claimed by {task.assignee}, not you",
                                       reason="task_claimed_by_other",
                                       params={"name": task.name, "assignee": task.assignee})
            write_task(self.db.fast, session, task_id, assignee=None, state=TaskState.OPEN, claimed_at=None)
            self._audit(session, AuditType.TASK_UNCLAIMED, task, actor, {"previous_assignee": task.assignee})
            return task_view(read_task(self.db.fast, session, task_id))

    def assign(self, task_id: str, user: str, actor: Actor) -> TaskView:
        """Give a task to a named person (admins)."""
        if not actor.has_role(Role.ADMIN):
            raise PermissionDenied("assigning tasks to others needs the admin role", reason="admin_only")
        with self.db.transaction() as session:
            task = read_task(self.db.fast, session, task_id, lock=True)
            if task.state not in OPEN_STATES:
                raise task_not_open(task)
            write_task(self.db.fast, session, task_id, assignee=user, state=TaskState.CLAIMED, claimed_at=utcnow())
            self._audit(
                session, AuditType.TASK_ASSIGNED, task, actor, {"assignee": user, "previous_assignee": task.assignee}
            )
            return task_view(read_task(self.db.fast, session, task_id))

    def complete(self, task_id: str, data: dict[str, Any], actor: Actor, *, language: str = "en") -> InstanceView:
        """Complete a task with its form's data and run the case to its next wait state.

        Raises NotFound, Conflict (closed task, suspended case, concurrent change), PermissionDenied
        (not yours, separation of duties — audited), ValidationFailed (form), ScriptError/EngineError (incident).
        """
        refusal: list[dict[str, Any]] = []
        located: list[Any] = []

        def action(ctx: StepContext) -> InstanceView:
            # SQLite serializes write transactions, so the row read before the case lock is current; on
            # PostgreSQL it is read again and locked (a claim in flight locks only the task row: wait for it).
            task = located[0] if self.db.is_sqlite else read_task(self.db.fast, ctx.session, task_id, lock=True)
            if task.state not in OPEN_STATES:
                raise task_not_open(task)
            if ctx.row.state == InstanceState.SUSPENDED:
                raise Conflict("the case is suspended; its tasks cannot be completed until it is resumed",
                               reason="case_suspended")
            if ctx.row.state not in ACTIVE:
                raise Conflict(f"the case is {ctx.row.state}", reason="case_not_active",
                               params={"state": ctx.row.state})
            check_can_complete(task, actor)
            violation = separation_of_duties_violation(ctx.session, task, ctx.row, actor)
            if violation:
                refusal.append(
                    {
                        "instance_id": task.instance_id,
                        "task_id": task.id,
                        "definition_id": task.definition_id,
                        "process_key": task.process_key,
                        "element_id": task.element_id,
                        "name": task.name,
                        "reason": violation.message,
                    }
                )
                raise violation
            cleaned = self.forms.clean(task.form_key, data, language) if self.forms is not None else dict(data)
            self.steps.store.runtime.complete_user_task(ctx.live.workflow, task_id, cleaned)
            ctx.live.open_task_ids.discard(task_id)
            outcome = self.steps.store.inspect(ctx.live, ctx.now)
            self._audit(ctx.session, AuditType.TASK_COMPLETED, task, actor, {"data": cleaned})
            with self.db.fast.batched(ctx.session):  # on PostgreSQL the task's own row goes with the step's writes
                write_task(
                    self.db.fast,
                    ctx.session,
                    task_id,
                    state=TaskState.COMPLETED,
                    completed_by=actor.username,
                    completed_at=ctx.now,
                    submitted_data=cleaned,
                    assignee=task.assignee or actor.username,
                )
                new_tasks = self.steps.store.save(ctx.session, ctx.row, ctx.live, outcome, ctx.now)
            record_new_tasks(self.audit, ctx.session, ctx.row, new_tasks, actor.username)
            return self.instances.view_of(ctx.session, ctx.row, ctx.live)

        def locate(session: Session) -> str | CaseRef:
            if self.db.is_sqlite:  # one statement for the task and its (already locked) case's version
                task, case = read_task_and_case_version(self.db.fast, session, task_id)
                located.append(task)
                return case
            located.append(read_task(self.db.fast, session, task_id))
            return str(located[0].instance_id)

        try:
            return self.steps.run(locate, actor.username, action)
        except PermissionDenied:
            if refusal:
                self._audit_refusal(refusal[0], actor)
            raise

    def _audit_refusal(self, refused: dict[str, Any], actor: Actor) -> None:
        """The refused step was rolled back; the refusal itself is kept in its own transaction."""
        with self.db.transaction() as session:
            self.audit.record(
                session,
                AuditType.TASK_REFUSED,
                actor=actor.username,
                instance_id=refused["instance_id"],
                task_id=refused["task_id"],
                definition_id=refused["definition_id"],
                process_key=refused["process_key"],
                data={"element_id": refused["element_id"], "name": refused["name"], "reason": refused["reason"]},
            )
