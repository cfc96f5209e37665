"""Cases: start, cancel, suspend, resume, read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.orm import Session

from .access import check_can_see_case, check_can_start, sees_everything, took_part
from .audit import AuditLog
from .cases import CaseStore, LiveCase
from .db.models import ProcessDefinition, ProcessInstance
from .db.paging import page_of
from .db.session import Database
from .db.types import utcnow
from .errors import Conflict, EngineError, NotFound, PermissionDenied, ScriptError
from .forms import FormService
from .presenters import instance_view
from .records import CaseRecord, latest_definition, next_case_number, read_case, write_case
from .runtime.compiler import CompiledProcess
from .runtime.workflow import ReadyUserTask
from .steps import StepContext, StepRunner
from .views import Actor, AuditType, InstanceState, InstanceView, MessageResult, Page, Role

ACTIVE = (InstanceState.RUNNING, InstanceState.WAITING)


def record_new_tasks(
    audit: AuditLog, session: Session, row: CaseRecord, tasks: list[ReadyUserTask], actor: str
) -> None:
    """Audit the tasks a step created, and the case's completion."""
    for task in tasks:
        audit.record(
            session,
            AuditType.TASK_CREATED,
            actor=actor,
            instance_id=row.id,
            task_id=task.task_id,
            definition_id=row.definition_id,
            process_key=row.process_key,
            data={
                "element_id": task.element_id,
                "name": task.name,
                "assignee": task.assignee,
                "candidate_groups": task.candidate_groups,
                "candidate_users": task.candidate_users,
                "due": task.due_at.isoformat() if task.due_at else None,
            },
        )
    if row.state == InstanceState.COMPLETED:
        audit.record(
            session,
            AuditType.INSTANCE_COMPLETED,
            actor=actor,
            instance_id=row.id,
            definition_id=row.definition_id,
            process_key=row.process_key,
        )


# How long a due timer of a suspended case waits before the worker looks at it again (resuming wakes it).
SUSPENDED_RECHECK = timedelta(minutes=5)


class InstanceService:
    def __init__(
        self, db: Database, store: CaseStore, steps: StepRunner, audit: AuditLog, forms: FormService | None = None
    ) -> None:
        self.db = db
        self.store = store
        self.steps = steps
        self.audit = audit
        self.forms = forms

    def start(
        self, key: str, data: dict[str, Any], actor: Actor, *, business_key: str | None = None, language: str = "en"
    ) -> InstanceView:
        """Start a case on the latest version of `key` and run it to its first wait state.

        Raises NotFound, PermissionDenied (not among the process's candidate starters), ValidationFailed (start
        form), ScriptError / EngineError (recorded as an incident).
        """

        def initial_data(compiled: CompiledProcess) -> dict[str, Any]:
            check_can_start(key, compiled.starter_groups, compiled.starter_users, actor)
            return self.forms.clean(compiled.start_form_key, data, language) if self.forms is not None else dict(data)

        return self._create(key, actor, business_key, initial_data)

    def start_on_message(self, key: str, message: str, data: dict[str, Any], actor: Actor, *,
                         business_key: str | None = None,
                         remember: Callable[[Session, MessageResult], None] | None = None) -> InstanceView:
        """Start a case whose start event waits for `message`, and deliver it (see engine.messages)."""

        def deliver(session: Session, row: CaseRecord, live: LiveCase) -> None:
            waiting = self.store.runtime.waiting_for_message(live.workflow, message)
            if not waiting:
                raise NotFound(f"process {key!r} does not start on message {message!r}")
            self.store.runtime.deliver_message(live.workflow, waiting[0], message, data)
            self.audit.record(session, AuditType.MESSAGE_RECEIVED, actor=actor.username, instance_id=row.id,
                              definition_id=row.definition_id, process_key=row.process_key,
                              data={"name": message, "data": data})

        def receipt(session: Session, row: CaseRecord) -> None:
            if remember is not None:
                remember(session, MessageResult(row.id, True, row.state))

        def may_start(compiled: CompiledProcess) -> dict[str, Any]:
            # who may start a process, may start it by message too (and nobody else)
            check_can_start(key, compiled.starter_groups, compiled.starter_users, actor)
            return {}

        return self._create(key, actor, business_key, may_start, before_save=deliver, after_save=receipt)

    def start_on_timer(self, key: str, actor: Actor,
                       before_save: Callable[[Session, CaseRecord, LiveCase], None]) -> InstanceView:
        """Start the scheduled occurrence of a process with a timer start event (see engine.schedule)."""
        return self._create(key, actor, None, lambda compiled: {}, before_save=before_save, on_timer=True)

    def _create(self, key: str, actor: Actor, business_key: str | None,
                initial_data: Callable[[CompiledProcess], dict[str, Any]],
                before_save: Callable[[Session, CaseRecord, LiveCase], None] | None = None, *,
                after_save: Callable[[Session, CaseRecord], None] | None = None,
                on_timer: bool = False) -> InstanceView:
        definition_id: int | None = None
        try:
            with self.db.transaction() as session:
                definition = latest_definition(self.db.fast, session, key)
                if definition is None:
                    raise NotFound(f"no process definition with key {key!r}", reason="process_not_found",
                                   params={"process_key": key})
                definition_id = definition.id
                compiled = self.store.compiled_for(session, definition)
                initial = initial_data(compiled)
                if compiled.initiator_variable:
                    initial[compiled.initiator_variable] = actor.username
                if on_timer:
                    if compiled.start_timer is None:
                        raise NotFound(f"process {key!r} has no timer start event")
                    workflow = self.store.runtime.start_on_timer(compiled)
                else:
                    workflow = self.store.runtime.new_workflow(compiled, initial)
                    self.store.runtime.advance(workflow)
                now = utcnow()
                row = CaseRecord(
                    id=str(uuid4()), number=next_case_number(self.db.fast, session), definition_id=definition.id,
                    process_key=definition.key, business_key=business_key, state=InstanceState.RUNNING,
                    started_by=actor.username, started_at=now, ended_at=None, updated_at=now, version=1, data={},
                    completed_elements=[], active_elements=[], engine_header="{}", next_task_seq=0,
                )
                live = self.store.new_case(row.id, compiled, workflow, definition.version)
                self.audit.record(
                    session, AuditType.INSTANCE_STARTED, actor=actor.username, instance_id=row.id,
                    definition_id=definition.id, process_key=definition.key,
                    data={"version": definition.version, "business_key": business_key, "data": initial},
                )
                if before_save is not None:
                    before_save(session, row, live)
                outcome = self.store.inspect(live, now)
                new_tasks = self.store.save(session, row, live, outcome, now, insert_row=True)
                record_new_tasks(self.audit, session, row, new_tasks, actor.username)
                if after_save is not None:
                    after_save(session, row)
                view = instance_view(self.db.fast, session, row, definition.version, live.open_rows)
            self.store.committed(live)
            return view
        except (ScriptError, EngineError) as exc:
            if not on_timer:  # a scheduled start is a job: it records one incident, after its last try
                self.steps.record_incident(exc, actor=actor.username, process_key=key, definition_id=definition_id)
            raise

    def cancel(self, instance_id: str, actor: Actor) -> InstanceView:
        """Cancel an active or suspended case (its starter or an admin). Raises Conflict, PermissionDenied."""

        def action(ctx: StepContext) -> InstanceView:
            if not (actor.has_role(Role.ADMIN) or ctx.row.started_by == actor.username):
                raise PermissionDenied("only the person who started a case, or an admin, may cancel it",
                                       reason="cancel_not_allowed")
            if ctx.row.state not in (*ACTIVE, InstanceState.SUSPENDED):
                raise Conflict(f"case {instance_id} is {ctx.row.state}; only an active case can be cancelled",
                               reason="case_not_active", params={"state": ctx.row.state})
            self.store.runtime.cancel(ctx.live.workflow)
            outcome = self.store.inspect(ctx.live, ctx.now)
            ctx.row.state, ctx.row.ended_at = InstanceState.CANCELLED, ctx.now
            self.store.save(ctx.session, ctx.row, ctx.live, outcome, ctx.now)
            self.audit.record(
                ctx.session,
                AuditType.INSTANCE_CANCELLED,
                actor=actor.username,
                instance_id=ctx.row.id,
                definition_id=ctx.row.definition_id,
                process_key=ctx.row.process_key,
            )
            return self.view_of(ctx.session, ctx.row, ctx.live)

        return self.steps.run(instance_id, actor.username, action)

    def suspend(self, instance_id: str, actor: Actor) -> InstanceView:
        """Pause a case: its tasks cannot be completed until it is resumed (admins)."""
        return self._set_suspended(instance_id, actor, True)

    def resume(self, instance_id: str, actor: Actor) -> InstanceView:
        return self._set_suspended(instance_id, actor, False)

    def _set_suspended(self, instance_id: str, actor: Actor, suspend: bool) -> InstanceView:
        if not actor.has_role(Role.ADMIN):
            raise PermissionDenied("suspending and resuming cases needs the admin role", reason="admin_only")
        with self.db.transaction() as session:
            row = read_case(self.db.fast, session, instance_id, lock=True)
            if suspend and row.state not in ACTIVE:
                raise Conflict(f"case {instance_id} is {row.state}; only an active case can be suspended",
                               reason="case_not_active", params={"state": row.state})
            if not suspend and row.state != InstanceState.SUSPENDED:
                raise Conflict(f"case {instance_id} is {row.state}, not suspended", reason="case_not_suspended",
                               params={"state": row.state})
            if suspend:
                row.state = InstanceState.SUSPENDED
            else:
                has_open = bool(instance_view(self.db.fast, session, row, 0).open_tasks)
                row.state = InstanceState.RUNNING if has_open else InstanceState.WAITING
                # timers that came due while it was suspended were held back (engine.jobs): due again now
                # (not those parked after failing: they wait for an admin's retry)
                held_until = self.db.fast.ts(utcnow() + SUSPENDED_RECHECK)
                self.db.fast.execute(
                    session, "UPDATE job SET locked_until = NULL WHERE instance_id = :id AND kind = 'timer' "
                    "AND locked_by IS NULL AND locked_until <= :held", {"id": instance_id, "held": held_until})
            row.updated_at = utcnow()
            write_case(self.db.fast, session, row)
            self.audit.record(
                session,
                AuditType.INSTANCE_SUSPENDED if suspend else AuditType.INSTANCE_RESUMED,
                actor=actor.username,
                instance_id=row.id,
                definition_id=row.definition_id,
                process_key=row.process_key,
            )
            return self.view_of(session, row)

    def view_of(self, session: Session, row: Any, live: LiveCase | None = None) -> InstanceView:
        if live is not None:
            return instance_view(self.db.fast, session, row, live.definition_version, live.open_rows)
        version = session.execute(
            select(ProcessDefinition.version).where(ProcessDefinition.id == row.definition_id)
        ).scalar_one()
        return instance_view(self.db.fast, session, row, version)

    def get(self, instance_id: str, actor: Actor) -> InstanceView:
        """One case, if the actor may see it. Raises NotFound, PermissionDenied."""
        with self.db.reading() as session:
            row = read_case(self.db.fast, session, instance_id)
            check_can_see_case(session, row, actor)
            return self.view_of(session, row)

    def list(
        self,
        actor: Actor,
        *,
        key: str | None = None,
        state: str | None = None,
        started_by: str | None = None,
        only_involved: bool = False,
        page: int = 1,
        per_page: int = 50,
    ) -> Page[InstanceView]:
        """Cases the actor may see (auditors and admins: all, unless `only_involved`), newest first."""
        with self.db.reading() as session:
            stmt = select(ProcessInstance)
            if only_involved or not sees_everything(actor):
                stmt = stmt.where(took_part(actor))
            if key:
                stmt = stmt.where(ProcessInstance.process_key == key)
            if state:
                stmt = stmt.where(ProcessInstance.state == state)
            if started_by:
                stmt = stmt.where(ProcessInstance.started_by == started_by)
            return page_of(session, stmt, (ProcessInstance.started_at.desc(), ProcessInstance.id), page, per_page,
                           lambda row: self.view_of(session, row))
