"""Loading and saving cases: the single-writer rule, the live-workflow cache, incremental writes.

A case is loaded for a step with its row locked (SELECT ... FOR UPDATE on
PostgreSQL; SQLite write transactions are serialized by BEGIN IMMEDIATE). Its
workflow comes from the in-process cache when the cached copy is exactly the
stored version, otherwise it is restored from its task rows. The cache entry
is taken out while a step runs and put back only after the commit, so a
failed step can never leave a half-changed workflow behind.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from .db.models import DefinitionSource, EngineTask, HumanTask, ProcessDefinition, ProcessInstance, TaskCandidate
from .errors import Conflict, NotFound
from .runtime.compiler import CompiledProcess, SpecCache
from .runtime.state import Snapshot, full_snapshot, restore, serialized
from .runtime.workflow import ReadyUserTask, StepOutcome, WorkflowRuntime
from .views import InstanceState, TaskState


@dataclass
class LiveCase:
    """A case's workflow in memory with what was last written of it."""

    instance_id: str
    compiled: CompiledProcess
    workflow: Any
    snapshot: Snapshot
    open_task_ids: set[str] = field(default_factory=set)
    completed_elements: list[str] = field(default_factory=list)
    next_seq: int = 0
    version: int = 0


class CaseCache:
    """Live workflows by case id; an entry is handed out to one step at a time."""

    def __init__(self, capacity: int) -> None:
        self._entries: OrderedDict[str, LiveCase] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity

    def take(self, instance_id: str, version: int) -> LiveCase | None:
        with self._lock:
            live = self._entries.pop(instance_id, None)
        return live if live is not None and live.version == version else None

    def put(self, live: LiveCase) -> None:
        if self._capacity <= 0:
            return
        with self._lock:
            self._entries[live.instance_id] = live
            self._entries.move_to_end(live.instance_id)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def discard(self, instance_id: str) -> None:
        with self._lock:
            self._entries.pop(instance_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class CaseStore:
    """Reads and writes case state, inbox rows and the instance row of one step."""

    def __init__(
        self, runtime: WorkflowRuntime, specs: SpecCache, cache: CaseCache, *, verify_writes: bool = False
    ) -> None:
        self.verify_writes = verify_writes
        self.runtime = runtime
        self.specs = specs
        self.cache = cache

    def compiled_for(self, session: Session, definition: ProcessDefinition) -> CompiledProcess:
        compiled = self.specs.get(definition.content_hash, definition.key)
        if compiled is None:
            source = session.get(DefinitionSource, definition.content_hash)
            if source is None:
                raise NotFound(f"the sources of {definition.key} v{definition.version} are missing")
            compiled = self.specs.get(definition.content_hash, definition.key, source.files)
        assert compiled is not None
        return compiled

    def lock(self, session: Session, instance_id: str) -> ProcessInstance:
        row = session.get(ProcessInstance, instance_id, with_for_update=True)
        if row is None:
            raise NotFound(f"case {instance_id} does not exist")
        return row

    def load(self, session: Session, row: ProcessInstance) -> LiveCase:
        """The case's live workflow at exactly the row's stored version."""
        live = self.cache.take(row.id, row.version)
        if live is not None:
            return live
        definition = session.get(ProcessDefinition, row.definition_id)
        assert definition is not None
        compiled = self.compiled_for(session, definition)
        bodies = session.execute(
            select(EngineTask.workflow_id, EngineTask.body)
            .where(EngineTask.instance_id == row.id)
            .order_by(EngineTask.seq)
        ).all()
        workflow = restore(
            compiled.spec,
            compiled.subprocess_specs,
            row.engine_header,
            [tuple(b) for b in bodies],
            self.runtime.script_engine,
        )
        open_ids = set(
            session.execute(
                select(HumanTask.id).where(
                    HumanTask.instance_id == row.id, HumanTask.state.in_([TaskState.OPEN, TaskState.CLAIMED])
                )
            ).scalars()
        )
        return LiveCase(
            instance_id=row.id,
            compiled=compiled,
            workflow=workflow,
            snapshot=full_snapshot(workflow),
            open_task_ids=open_ids,
            completed_elements=list(row.completed_elements or []),
            next_seq=row.next_task_seq,
            version=row.version,
        )

    def new_case(self, instance_id: str, compiled: CompiledProcess, workflow: Any) -> LiveCase:
        return LiveCase(instance_id=instance_id, compiled=compiled, workflow=workflow, snapshot=Snapshot())

    def inspect(self, live: LiveCase, now: datetime) -> StepOutcome:
        return self.runtime.inspect(live.workflow, live.snapshot, live.open_task_ids, now)

    def save(
        self, session: Session, row: ProcessInstance, live: LiveCase, outcome: StepOutcome, now: datetime
    ) -> list[ReadyUserTask]:
        """Write what the step changed: task rows, inbox rows, the instance row (version-checked)."""
        changes = outcome.changes
        if changes.inserts:
            session.execute(
                insert(EngineTask),
                [
                    {
                        "instance_id": row.id,
                        "task_id": r.task_id,
                        "workflow_id": r.workflow_id,
                        "seq": live.next_seq + i,
                        "body": r.body,
                    }
                    for i, r in enumerate(changes.inserts)
                ],
            )
            live.next_seq += len(changes.inserts)
        if changes.updates:
            session.connection().execute(
                update(EngineTask.__table__)
                .where(EngineTask.__table__.c.instance_id == row.id)
                .where(EngineTask.__table__.c.task_id == bindparam("b_task_id"))
                .values(body=bindparam("b_body")),
                [{"b_task_id": r.task_id, "b_body": r.body} for r in changes.updates],
            )
        if changes.deletes:
            session.execute(
                delete(EngineTask).where(EngineTask.instance_id == row.id, EngineTask.task_id.in_(changes.deletes))
            )
        vanished = live.open_task_ids - outcome.open_user_task_ids
        if vanished:
            session.execute(
                update(HumanTask)
                .where(HumanTask.id.in_(vanished), HumanTask.state.in_([TaskState.OPEN, TaskState.CLAIMED]))
                .values(state=TaskState.CANCELLED, completed_at=now)
            )
        for task in outcome.new_user_tasks:
            self._insert_human_task(session, row, task, now)
        live.open_task_ids = set(outcome.open_user_task_ids)
        for element in outcome.newly_completed_elements:
            if element not in live.completed_elements:
                live.completed_elements.append(element)

        row.engine_header = changes.header
        row.data = outcome.data
        row.active_elements = outcome.active_elements
        row.completed_elements = list(live.completed_elements)
        row.next_task_seq = live.next_seq
        row.updated_at = now
        if outcome.completed and row.state not in (InstanceState.CANCELLED,):
            row.state = InstanceState.COMPLETED
            row.ended_at = now
        elif row.state in (InstanceState.RUNNING, InstanceState.WAITING):
            row.state = InstanceState.RUNNING if outcome.open_user_task_ids else InstanceState.WAITING
        try:
            session.flush()
        except StaleDataError as exc:
            raise Conflict(f"case {row.id} was changed by someone else; reload and try again") from exc
        live.version = row.version
        if self.verify_writes:
            self._verify_written(session, row, live)
        return outcome.new_user_tasks

    def _verify_written(self, session: Session, row: ProcessInstance, live: LiveCase) -> None:
        """Debug aid (tests): the stored state restores to exactly the in-memory workflow."""
        bodies = session.execute(
            select(EngineTask.workflow_id, EngineTask.body)
            .where(EngineTask.instance_id == row.id)
            .order_by(EngineTask.seq)
        ).all()
        restored = restore(
            live.compiled.spec,
            live.compiled.subprocess_specs,
            row.engine_header,
            [tuple(b) for b in bodies],
            self.runtime.script_engine,
        )
        if serialized(restored) != serialized(live.workflow):
            raise AssertionError(f"stored state of case {row.id} does not restore to the live workflow")

    @staticmethod
    def _insert_human_task(session: Session, row: ProcessInstance, task: ReadyUserTask, now: datetime) -> None:
        session.add(
            HumanTask(
                id=task.task_id,
                instance_id=row.id,
                definition_id=row.definition_id,
                process_key=row.process_key,
                business_key=row.business_key,
                element_id=task.element_id,
                name=task.name,
                form_key=task.form_key,
                lane=task.lane,
                assignee=task.assignee,
                candidate_users=task.candidate_users,
                candidate_groups=task.candidate_groups,
                properties=task.properties,
                priority=task.priority,
                due_at=task.due_at,
                created_at=now,
                state=TaskState.CLAIMED if task.assignee else TaskState.OPEN,
            )
        )
        candidates = [("user", u) for u in task.candidate_users] + [("group", g) for g in task.candidate_groups]
        for kind, name in dict.fromkeys(candidates):
            session.add(TaskCandidate(task_id=task.task_id, kind=kind, name=name))

    def committed(self, live: LiveCase) -> None:
        """Put the live workflow back for the next step (call after a successful commit)."""
        self.cache.put(live)
