"""Due timers, fired by workers: each in its own transaction under the case's single-writer rule.

Claiming takes a lease (PostgreSQL: FOR UPDATE SKIP LOCKED, so any number of workers share the work);
a worker that dies leaves its jobs to be claimed again when the lease runs out. A timer fires in the
same transaction that removes its job, so it fires once. A failing job is retried with exponential
backoff and becomes an incident on the case after its last try.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from .audit import AuditLog
from .db.session import Database
from .db.types import utcnow
from .errors import Conflict, EngineError, NotFound, PermissionDenied, ScriptError
from .instances import SUSPENDED_RECHECK, InstanceService, record_new_tasks
from .notifications import Mailer, Notice, write_notices
from .runtime.workflow import FiredTimer
from .schedule import next_occurrence
from .steps import StepContext, StepRunner
from .views import Actor, AuditType, InstanceState, Role

log = logging.getLogger(__name__)
SYSTEM = "system"
SYSTEM_ACTOR = Actor.system()


class _Suspended(Exception):
    """The job's case is suspended: nothing fires until it is resumed."""


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str  # "timer" (a case waits on it) or "start" (a scheduled start of a process)
    instance_id: str | None
    task_id: str
    attempts: int
    due_at: datetime
    payload: Any = None

    @property
    def process_key(self) -> str | None:
        """The process a start job starts (its task id is "start:<key>"); None for a timer job."""
        return self.task_id.removeprefix("start:") if self.kind == "start" else None


class JobRunner:
    def __init__(self, db: Database, steps: StepRunner, audit: AuditLog, instances: InstanceService, *,
                 lease_seconds: float = 60.0,
                 max_attempts: int = 3, backoff_seconds: float = 2.0, base_url: str = "",
                 mailer: Mailer | None = None) -> None:
        self.base_url = base_url
        self.mailer = mailer
        self.db = db
        self.steps = steps
        self.audit = audit
        self.instances = instances
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds

    def run_due(self, worker: str, *, limit: int = 20) -> int:
        """Claim and run up to `limit` due jobs; how many timers fired."""
        return sum(self.run_job(job, worker) for job in self.claim(worker, limit=limit))

    def claim(self, worker: str, *, limit: int = 20) -> list[ClaimedJob]:
        fast, now = self.db.fast, utcnow()
        skip_locked = "" if fast.is_sqlite else " FOR UPDATE SKIP LOCKED"
        with self.db.transaction() as session:
            rows = fast.fetch(
                session,
                "SELECT id, kind, instance_id, task_id, attempts, due_at, payload FROM job WHERE due_at <= :now "
                "AND (locked_until IS NULL OR locked_until < :now) ORDER BY due_at, id LIMIT :limit" + skip_locked,
                {"now": fast.ts(now), "limit": limit},
            )
            fast.execute_many(
                session, "UPDATE job SET locked_by = :worker, locked_until = :until, attempts = attempts + 1 "
                "WHERE id = :id", [{"id": r["id"], "worker": worker, "until": fast.ts(now + self.lease)} for r in rows])
        return [ClaimedJob(r["id"], r["kind"], r["instance_id"], r["task_id"], r["attempts"] + 1,
                           fast.load_ts(r["due_at"]) or now, fast.load_json(r["payload"])) for r in rows]

    def run_job(self, job: ClaimedJob, worker: str) -> int:
        """Fire what is due on the job's case, or start a scheduled case; how many timers fired.

        An error nobody foresaw fails the job like any other failure (retried, then parked with an incident):
        it must not end the worker, which would stop every timer of every case."""
        try:
            return self._run_job(job, worker)
        except Exception as exc:
            log.exception("job %s for case %s failed unexpectedly", job.id, job.instance_id,
                          extra={"instance_id": job.instance_id})
            self._failed(job, exc)
            return 0

    def _run_job(self, job: ClaimedJob, worker: str) -> int:
        if job.kind == "start":
            return self._start_scheduled(job, worker)
        assert job.instance_id is not None
        def action(ctx: StepContext) -> int:
            if job.task_id not in ctx.live.timer_jobs:
                return 0  # fired or cancelled meanwhile
            if ctx.row.state == InstanceState.SUSPENDED:
                raise _Suspended  # a suspended case takes no step, a timer's neither
            fired = self.steps.store.runtime.fire_due_timers(ctx.live.workflow)
            outcome = self.steps.store.inspect(ctx.live, ctx.now)
            for timer in fired:
                self.audit.record(ctx.session, AuditType.TIMER_FIRED, actor=SYSTEM, instance_id=ctx.row.id,
                                  definition_id=ctx.row.definition_id, process_key=ctx.row.process_key,
                                  data={"element_id": timer.element_id, "worker": worker})
            self._deadline_notices(ctx, fired)
            new_tasks = self.steps.store.save(ctx.session, ctx.row, ctx.live, outcome, ctx.now)
            record_new_tasks(self.audit, ctx.session, ctx.row, new_tasks, SYSTEM)
            return len(fired)

        try:
            fired = self.steps.run(job.instance_id, SYSTEM, action, record_incidents=False)
        except NotFound:
            return 0  # the case is gone; its jobs went with it
        except _Suspended:
            self._hold(job)
            return 0
        except (ScriptError, EngineError, SQLAlchemyError) as exc:
            self._failed(job, exc)
            return 0
        self._release(job)
        return fired

    def _deadline_notices(self, ctx: StepContext, fired: list[FiredTimer]) -> None:
        """Tell the people of a task whose boundary timer fired: a warning, or the deadline passed."""
        notices = []
        for timer in fired:
            if timer.attached_task_id is None:
                continue
            rows = self.db.fast.fetch(ctx.session, "SELECT id, name, assignee, candidate_users, candidate_groups "
                                      "FROM human_task WHERE id = :id", {"id": timer.attached_task_id})
            if not rows:
                continue
            task = rows[0]
            users = self.db.fast.load_json(task["candidate_users"]) or []
            groups = self.db.fast.load_json(task["candidate_groups"]) or []
            recipients = ([("user", task["assignee"])] if task["assignee"]
                          else [("user", u) for u in users] + [("group", g) for g in groups])
            notices.append(Notice("deadline_passed" if timer.interrupting else "deadline_warning", ctx.row.id,
                                  task["id"], task["name"], ctx.row.process_key, ctx.row.business_key, recipients))
        write_notices(self.db.fast, ctx.session, notices, ctx.now, self.base_url)

    def _start_scheduled(self, job: ClaimedJob, worker: str) -> int:
        """Start one scheduled case and move the schedule on, in one transaction (so it happens once)."""
        key = job.process_key
        assert key is not None
        fast = self.db.fast

        def advance_schedule(session: Any, row: Any, live: Any) -> None:
            current = fast.fetch(session, "SELECT due_at FROM job WHERE id = :id" + ("" if fast.is_sqlite
                                 else " FOR UPDATE"), {"id": job.id})
            if not current or fast.load_ts(current[0]["due_at"]) != job.due_at:
                raise Conflict("this occurrence was already started or rescheduled")
            following = next_occurrence(job.payload or {}, job.due_at)
            if following is None:
                fast.execute(session, "DELETE FROM job WHERE id = :id", {"id": job.id})
            else:
                fast.execute(
                    session, "UPDATE job SET due_at = :due, payload = :payload, attempts = 0, locked_by = NULL, "
                    "locked_until = NULL WHERE id = :id",
                    {"id": job.id, "due": fast.ts(following.due),
                     "payload": fast.json({**(job.payload or {}), "cycles": following.cycles_left})},
                )
            self.audit.record(session, AuditType.TIMER_FIRED, actor=SYSTEM, instance_id=row.id,
                              definition_id=row.definition_id, process_key=row.process_key,
                              data={"element_id": live.compiled.start_timer[0], "worker": worker,
                                    "scheduled_for": job.due_at.isoformat()})

        try:
            self.instances.start_on_timer(key, SYSTEM_ACTOR, advance_schedule)
        except Conflict:
            return 0
        except (ScriptError, EngineError, SQLAlchemyError, NotFound) as exc:
            self._failed(job, exc)
            return 0
        return 1

    def reschedule(self, instance_id: str, element_id: str, when: datetime, actor: Actor) -> None:
        """Move a waiting timer of a case to `when` (admins; e.g. to fire it now). Audited."""
        if not actor.has_role(Role.ADMIN):
            raise PermissionDenied("rescheduling timers needs the admin role")

        def action(ctx: StepContext) -> None:
            self.steps.store.runtime.reschedule_timer(ctx.live.workflow, element_id, when)
            outcome = self.steps.store.inspect(ctx.live, ctx.now)
            self.audit.record(ctx.session, AuditType.TIMER_RESCHEDULED, actor=actor.username, instance_id=ctx.row.id,
                              definition_id=ctx.row.definition_id, process_key=ctx.row.process_key,
                              data={"element_id": element_id, "due": when.isoformat()})
            self.steps.store.save(ctx.session, ctx.row, ctx.live, outcome, ctx.now)

        self.steps.run(instance_id, actor.username, action)

    def _release(self, job: ClaimedJob) -> None:
        """A job that is still there (its timer was not due yet by the engine's clock) becomes claimable again."""
        with self.db.transaction() as session:
            self.db.fast.execute(session, "UPDATE job SET locked_by = NULL, locked_until = NULL WHERE id = :id",
                                 {"id": job.id})

    def _hold(self, job: ClaimedJob) -> None:
        """Keep a suspended case's due timer for later, the try not counted (InstanceService.resume wakes it)."""
        with self.db.transaction() as session:
            self.db.fast.execute(
                session, "UPDATE job SET locked_by = NULL, locked_until = :until, attempts = attempts - 1 "
                "WHERE id = :id", {"id": job.id, "until": self.db.fast.ts(utcnow() + SUSPENDED_RECHECK)})

    def _failed(self, job: ClaimedJob, exc: BaseException) -> None:
        retry_at: datetime | None = None
        if job.attempts < self.max_attempts:
            retry_at = utcnow() + timedelta(seconds=self.backoff_seconds * 2 ** (job.attempts - 1))
        else:
            self.steps.record_incident(exc, actor=SYSTEM, instance_id=job.instance_id, task_id=job.task_id,
                                       process_key=job.process_key)
            retry_at = utcnow() + timedelta(days=36500)  # parked until an admin retries
        with self.db.transaction() as session:
            self.db.fast.execute(
                session, "UPDATE job SET locked_by = NULL, locked_until = :until, last_error = :error WHERE id = :id",
                {"id": job.id, "until": self.db.fast.ts(retry_at), "error": str(exc)[:2000]},
            )
        log.warning("job %s for case %s failed (try %s): %s", job.id, job.instance_id, job.attempts, exc,
                    extra={"instance_id": job.instance_id})


class Worker:
    """Runs due jobs until stopped; a stop lets the job in hand finish."""

    def __init__(self, runner: JobRunner, name: str, *, poll_seconds: float = 1.0) -> None:
        self.runner = runner
        self.name = name
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                jobs = self.runner.claim(self.name)
                for job in jobs:
                    if self.stopping.is_set():
                        break  # the lease hands unstarted jobs to another worker
                    self.runner.run_job(job, self.name)
                if self.runner.mailer is not None and self.runner.mailer.configured:
                    self.runner.mailer.send_pending()
            except SQLAlchemyError:
                log.exception("worker %s: database error; retrying", self.name)
                jobs = []
            if not jobs:
                self.stopping.wait(self.poll_seconds)

    def stop(self) -> None:
        self.stopping.set()
