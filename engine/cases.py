"""Loading and saving cases: the single-writer rule, the live-workflow cache, incremental writes.

A case is loaded for a step with its row locked (SELECT ... FOR UPDATE on
PostgreSQL; SQLite write transactions are serialized by BEGIN IMMEDIATE), and
written back only if its version is unchanged. Its workflow comes from the
in-process cache when the cached copy is exactly the stored version, otherwise
it is restored from its task rows. The cache entry is taken out while a step
runs and put back only after the commit, so a failed step can never leave a
half-changed workflow behind.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from .db.fast import FastSQL
from .db.models import DefinitionSource, ProcessDefinition
from .errors import EngineError, NotFound
from .notifications import notices_for_new_task, write_notices
from .records import CaseRecord, CaseRef, Row, insert_case, insert_tasks, read_case, write_case
from .runtime.compiler import CompiledProcess, SpecCache
from .runtime.state import Snapshot, StateChanges, full_snapshot, restore, serialized
from .runtime.workflow import ReadyUserTask, StepOutcome, WorkflowRuntime
from .views import InstanceState, TaskState

_ENDED = frozenset({InstanceState.COMPLETED, InstanceState.CANCELLED})
# A task row's key is its case's number * SEQ_SPAN + the row's sequence number in the case (migration 0007).
SEQ_SPAN = 2**32


@dataclass
class LiveCase:
    """A case's workflow in memory with what was last written of it."""

    instance_id: str
    compiled: CompiledProcess
    workflow: Any
    snapshot: Snapshot
    definition_version: int
    open_task_ids: set[str] = field(default_factory=set)
    completed_elements: list[str] = field(default_factory=list)
    next_seq: int = 0
    row_seqs: dict[str, int] = field(default_factory=dict)  # task id -> seq of its stored row (see SEQ_SPAN)
    version: int = 0
    message_waits: dict[str, str] = field(default_factory=dict)  # as stored in message_wait
    timer_jobs: dict[str, datetime] = field(default_factory=dict)  # task id -> due, as stored in job
    # The case's open inbox rows as the last save left them, when that save wrote them all itself
    # (so the step's answer needs no re-read); None when they must be read.
    open_rows: list[Row] | None = None
    # The case's row as last loaded or saved (so a step at the same version need not read and decode it).
    record: CaseRecord | None = None


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

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class CaseStore:
    """Reads and writes case state, inbox rows and the instance row of one step."""

    def __init__(
        self,
        fast: FastSQL,
        runtime: WorkflowRuntime,
        specs: SpecCache,
        cache: CaseCache,
        *,
        verify_writes: bool = False,
        base_url: str = "",
    ) -> None:
        self.base_url = base_url
        self.fast = fast
        self.runtime = runtime
        self.specs = specs
        self.cache = cache
        self.verify_writes = verify_writes

    def compiled_for(self, session: Session, definition: Any) -> CompiledProcess:
        """The compiled process of a definition row (anything with key, version and content_hash)."""
        compiled = self.specs.get(definition.content_hash, definition.key)
        if compiled is None:
            source = session.get(DefinitionSource, definition.content_hash)
            if source is None:
                raise NotFound(f"the sources of {definition.key} v{definition.version} are missing")
            compiled = self.specs.get(definition.content_hash, definition.key, source.files)
        assert compiled is not None
        return compiled

    def lock(self, session: Session, instance_id: str) -> CaseRecord:
        return read_case(self.fast, session, instance_id, lock=True)

    def load_current(self, session: Session, ref: CaseRef) -> tuple[CaseRecord, LiveCase]:
        """The case's row and live workflow at the version `ref` saw: both from the cache when it holds that
        version (every write of a case row goes through write_case, which bumps the version), else read."""
        live = self.cache.take(ref.id, ref.version)
        if live is not None and live.record is not None:  # (load and save always set it)
            live.open_rows = None
            return live.record, live
        row = read_case(self.fast, session, ref.id, lock=True)
        return row, self.load(session, row)

    def load(self, session: Session, row: CaseRecord) -> LiveCase:
        """The case's live workflow at exactly the row's stored version."""
        live = self.cache.take(row.id, row.version)
        if live is not None:
            live.open_rows, live.record = None, row
            return live
        definition = session.get(ProcessDefinition, row.definition_id)
        assert definition is not None
        compiled = self.compiled_for(session, definition)
        rows = self._task_rows(session, row)
        workflow = restore(
            compiled.spec,
            compiled.subprocess_specs,
            row.engine_header,
            [(r["workflow_id"], r["body"]) for r in rows],
            self.runtime.script_engine,
        )
        open_ids = {
            r["id"]
            for r in self.fast.fetch(
                session,
                "SELECT id FROM human_task WHERE instance_id = :id AND state IN ('open', 'claimed')",
                {"id": row.id},
            )
        }
        waits = {r["task_id"]: r["message_name"] for r in self.fast.fetch(
            session, "SELECT task_id, message_name FROM message_wait WHERE instance_id = :id", {"id": row.id})}
        return LiveCase(
            instance_id=row.id,
            compiled=compiled,
            workflow=workflow,
            snapshot=full_snapshot(workflow),
            message_waits=waits,
            timer_jobs=self._timer_jobs(session, row.id),
            definition_version=definition.version,
            open_task_ids=open_ids,
            completed_elements=list(row.completed_elements or []),
            next_seq=row.next_task_seq,
            row_seqs={r["task_id"]: r["row_key"] - row.number * SEQ_SPAN for r in rows},
            version=row.version,
            record=row,
        )

    def _task_rows(self, session: Session, row: CaseRecord) -> list[dict[str, Any]]:
        """The case's task rows in write order: one range of the primary key."""
        first = row.number * SEQ_SPAN
        return self.fast.fetch(
            session,
            "SELECT row_key, task_id, workflow_id, body FROM engine_task "
            "WHERE row_key >= :first AND row_key < :end ORDER BY row_key",
            {"first": first, "end": first + SEQ_SPAN},
        )

    @staticmethod
    def new_case(instance_id: str, compiled: CompiledProcess, workflow: Any, definition_version: int) -> LiveCase:
        return LiveCase(
            instance_id=instance_id,
            compiled=compiled,
            workflow=workflow,
            snapshot=Snapshot(),
            definition_version=definition_version,
        )

    def inspect(self, live: LiveCase, now: datetime) -> StepOutcome:
        return self.runtime.inspect(live.workflow, live.snapshot, live.open_task_ids, now)

    def save(
        self,
        session: Session,
        row: CaseRecord,
        live: LiveCase,
        outcome: StepOutcome,
        now: datetime,
        *,
        insert_row: bool = False,
    ) -> list[ReadyUserTask]:
        """Write what the step changed: the instance row (version-checked) first, then task and inbox rows."""
        changes = outcome.changes
        for element in outcome.newly_completed_elements:
            if element not in live.completed_elements:
                live.completed_elements.append(element)
        row.engine_header = changes.header
        row.data = outcome.data
        row.active_elements = outcome.active_elements
        row.completed_elements = list(live.completed_elements)
        row.next_task_seq = live.next_seq + len(changes.inserts)
        row.updated_at = now
        if outcome.completed and row.state != InstanceState.CANCELLED:
            row.state, row.ended_at = InstanceState.COMPLETED, now
        elif row.state in (InstanceState.RUNNING, InstanceState.WAITING):
            row.state = InstanceState.RUNNING if outcome.open_user_task_ids else InstanceState.WAITING
        with self.fast.batched(session):  # on PostgreSQL: the writes below cost one or two round trips
            if insert_row:
                insert_case(self.fast, session, row)
            else:
                write_case(self.fast, session, row)  # a stale writer fails here, before writing anything else

            self._write_task_rows(session, row, live, changes)
            fast = self.fast
            fast.execute_many(
                session,
                "UPDATE human_task SET state = 'cancelled', completed_at = :now "
                "WHERE id = :id AND state IN ('open', 'claimed')",
                [{"id": task_id, "now": fast.ts(now)} for task_id in live.open_task_ids - outcome.open_user_task_ids],
            )
            live.open_rows = [] if not outcome.open_user_task_ids else None
            if outcome.new_user_tasks:
                self._insert_human_tasks(session, row, live, outcome, now)
                write_notices(self.fast, session, [notices_for_new_task(t, row) for t in outcome.new_user_tasks], now,
                              self.base_url)
            self._sync_message_waits(session, row, live, outcome.message_waits)
            self._sync_timer_jobs(session, row, live, outcome.timer_waits, now)
            live.open_task_ids = set(outcome.open_user_task_ids)
            live.version = row.version
            live.record = row
            if self.verify_writes:
                self._verify_written(session, row, live)
        return outcome.new_user_tasks

    def _write_task_rows(self, session: Session, row: CaseRecord, live: LiveCase, changes: StateChanges) -> None:
        """Insert, rewrite and delete the step's task rows, each by its key (see SEQ_SPAN)."""
        first, seqs, fast = row.number * SEQ_SPAN, live.row_seqs, self.fast
        if live.next_seq + len(changes.inserts) > SEQ_SPAN:
            raise EngineError(f"case {row.id} has written more task rows than a case may ({SEQ_SPAN})")
        inserts = []
        for task_row in changes.inserts:
            seqs[task_row.task_id] = seq = live.next_seq
            live.next_seq += 1
            inserts.append({"row_key": first + seq, "instance_id": row.id, "task_id": task_row.task_id,
                            "workflow_id": task_row.workflow_id, "body": task_row.body})
        fast.execute_many(
            session,
            "INSERT INTO engine_task (row_key, instance_id, task_id, workflow_id, body) "
            "VALUES (:row_key, :instance_id, :task_id, :workflow_id, :body)",
            inserts,
        )
        fast.execute_many(session, "UPDATE engine_task SET body = :body WHERE row_key = :row_key",
                          [{"row_key": first + seqs[r.task_id], "body": r.body} for r in changes.updates])
        fast.execute_many(session, "DELETE FROM engine_task WHERE row_key = :row_key",
                          [{"row_key": first + seqs.pop(task_id)} for task_id in changes.deletes])

    def _insert_human_tasks(self, session: Session, row: CaseRecord, live: LiveCase, outcome: StepOutcome,
                            now: datetime) -> None:
        tasks = outcome.new_user_tasks
        rows = [
            {
                "id": t.task_id,
                "instance_id": row.id,
                "definition_id": row.definition_id,
                "process_key": row.process_key,
                "business_key": row.business_key,
                "element_id": t.element_id,
                "name": t.name,
                "form_key": t.form_key,
                "lane": t.lane,
                "assignee": t.assignee,
                "candidate_users": t.candidate_users,
                "candidate_groups": t.candidate_groups,
                "properties": t.properties,
                "priority": t.priority,
                "due_at": t.due_at.astimezone(UTC) if t.due_at else None,  # as read back
                "created_at": now.astimezone(UTC),
                "state": TaskState.CLAIMED if t.assignee else TaskState.OPEN,
                "claimed_at": None,
                "completed_by": None,
                "completed_at": None,
                "submitted_data": None,
            }
            for t in tasks
        ]
        insert_tasks(self.fast, session, rows)
        # Every open task new in this step (tasks come sorted by element id, as open_tasks() orders a step's
        # new rows; with repeated element ids the database's order is left to the database): no re-read.
        elements = [t.element_id for t in tasks]
        if outcome.open_user_task_ids <= {t.task_id for t in tasks} and len(set(elements)) == len(elements):
            live.open_rows = [Row(r) for r in rows if r["id"] in outcome.open_user_task_ids]
        self.fast.execute_many(
            session,
            "INSERT INTO human_task_candidate (task_id, kind, name) VALUES (:task_id, :kind, :name)",
            [
                {"task_id": t.task_id, "kind": kind, "name": name}
                for t in tasks
                for kind, name in dict.fromkeys(
                    [("user", u) for u in t.candidate_users] + [("group", g) for g in t.candidate_groups]
                )
            ],
        )

    def _sync_message_waits(self, session: Session, row: CaseRecord, live: LiveCase, waits: dict[str, str]) -> None:
        """Keep message_wait equal to the case's waiting message events (so a message finds its case by index)."""
        if waits == live.message_waits:
            return
        self.fast.execute_many(session, "DELETE FROM message_wait WHERE task_id = :task_id",
                               [{"task_id": t} for t in live.message_waits if t not in waits])
        self.fast.execute_many(
            session,
            "INSERT INTO message_wait (task_id, instance_id, message_name) VALUES (:task_id, :instance_id, :name)",
            [{"task_id": t, "instance_id": row.id, "name": n} for t, n in waits.items() if t not in live.message_waits],
        )
        live.message_waits = dict(waits)

    def _timer_jobs(self, session: Session, instance_id: str) -> dict[str, datetime]:
        rows = self.fast.fetch(session, "SELECT task_id, due_at FROM job WHERE instance_id = :id AND kind = 'timer'",
                               {"id": instance_id})
        return {r["task_id"]: due for r in rows if (due := self.fast.load_ts(r["due_at"])) is not None}

    def _sync_timer_jobs(self, session: Session, row: CaseRecord, live: LiveCase,
                         timers: dict[str, tuple[str, datetime]], now: datetime) -> None:
        """One job per waiting timer, due when it is; a timer that fired or was cancelled loses its job."""
        wanted = {task_id: due for task_id, (_, due) in timers.items()}
        if wanted == live.timer_jobs:
            return
        fast = self.fast
        fast.execute_many(session, "DELETE FROM job WHERE kind = 'timer' AND task_id = :task_id",
                          [{"task_id": t} for t, due in live.timer_jobs.items() if wanted.get(t) != due])
        fast.execute_many(
            session,
            "INSERT INTO job (kind, instance_id, task_id, element_id, due_at, attempts, created_at) "
            "VALUES ('timer', :instance_id, :task_id, :element_id, :due_at, 0, :now)",
            [{"instance_id": row.id, "task_id": t, "element_id": timers[t][0], "due_at": fast.ts(due),
              "now": fast.ts(now)} for t, due in wanted.items() if live.timer_jobs.get(t) != due],
        )
        live.timer_jobs = wanted

    def _verify_written(self, session: Session, row: CaseRecord, live: LiveCase) -> None:
        """Debug aid (tests): the stored state restores to exactly the in-memory workflow."""
        restored = restore(
            live.compiled.spec,
            live.compiled.subprocess_specs,
            row.engine_header,
            [(r["workflow_id"], r["body"]) for r in self._task_rows(session, row)],
            self.runtime.script_engine,
        )
        if serialized(restored) != serialized(live.workflow):
            raise AssertionError(f"stored state of case {row.id} does not restore to the live workflow")

    def committed(self, live: LiveCase) -> None:
        """Put the live workflow back for the next step (call after a successful commit).

        A completed or cancelled case takes no further step: its workflow is let go rather than kept in
        a slot an open case could use (and, with a full cache, it would be some hundred thousand objects
        every full garbage collection walks for nothing)."""
        if live.record is not None and live.record.state in _ENDED:
            return
        self.cache.put(live)
