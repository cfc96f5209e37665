"""The engine facade: builds every service from one Settings object."""

from __future__ import annotations

from typing import Any

from .audit import AuditLog
from .cases import CaseCache, CaseStore
from .db.migrate import upgrade
from .db.session import Database
from .definitions import DefinitionService
from .forms import FormService
from .identity.org import OrgLookup
from .inbox import InboxService
from .incidents import IncidentService
from .instances import InstanceService
from .jobs import JobRunner
from .messages import MessageService
from .notifications import Mailer, NotificationService
from .runtime.compiler import SpecCache
from .runtime.workflow import WorkflowRuntime
from .sandbox import ScriptLimits
from .settings import Settings
from .steps import StepRunner
from .tasks import TaskService
from .trail import AuditTrailService
from .views import AuditEventView, VerifyResult

_DEFAULT = object()


class Engine:
    """opsflow's engine: definitions, cases, tasks, inbox and audit over one database."""

    def __init__(self, settings: Settings, *, forms: FormService | object | None = _DEFAULT) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.audit = AuditLog(self.db.fast, settings.audit_key)
        self.db.on_before_commit(self.audit.flush_pending)
        self.forms: FormService | None = (
            FormService(settings.forms_dir) if forms is _DEFAULT else forms  # type: ignore[assignment]
        )
        self.specs = SpecCache(max_bytes=settings.max_upload_bytes)
        self.runtime = WorkflowRuntime(
            ScriptLimits(cpu_seconds=settings.script_cpu_seconds, memory_bytes=settings.script_memory_bytes),
            max_task_depth=settings.max_task_depth,
            helpers=_org_helpers(OrgLookup(self.db)),
        )
        self.cache = CaseCache(settings.workflow_cache_size)
        self.store = CaseStore(
            self.db.fast, self.runtime, self.specs, self.cache, verify_writes=settings.verify_state_writes,
            base_url=settings.base_url,
        )
        self.steps = StepRunner(self.db, self.store, self.audit)
        self.definitions = DefinitionService(
            self.db, self.audit, self.specs, settings.max_upload_bytes, forms=self.forms,
            timer_value=self.runtime.timer_value,
        )
        self.instances = InstanceService(self.db, self.store, self.steps, self.audit, self.forms)
        self.tasks = TaskService(self.db, self.steps, self.audit, self.instances, self.forms)
        self.inbox = InboxService(self.db)
        self.trail = AuditTrailService(self.db, self.audit)
        self.incidents = IncidentService(self.db, self.audit)
        self.notifications = NotificationService(self.db)
        self.mailer = Mailer(self.db, settings)
        self.jobs = JobRunner(self.db, self.steps, self.audit, self.instances, lease_seconds=settings.job_lease_seconds,
                              max_attempts=settings.job_max_attempts, backoff_seconds=settings.job_backoff_seconds,
                              base_url=settings.base_url, mailer=self.mailer)
        self.messages = MessageService(self.db, self.store, self.steps, self.audit, self.instances)

    def migrate(self) -> None:
        """Bring the database schema to the newest migration."""
        upgrade(self.settings.database_url)

    def verify_audit(self) -> VerifyResult:
        with self.db.reading() as session:
            return self.audit.verify(session)

    def audit_events(self, **filters: object) -> list[AuditEventView]:
        """Every audit event matching the filters, oldest first (tests and exports)."""
        with self.db.reading() as session:
            page = self.audit.query(session, per_page=1_000_000, **filters)  # type: ignore[arg-type]
            return page.items

    def close(self) -> None:
        self.db.dispose()


def _org_helpers(org: OrgLookup) -> dict[str, Any]:
    """What diagrams may ask of the org chart (engine.identity.org)."""
    return {"unit_heads": org.unit_heads, "group_heads": org.group_heads}
