"""What the engine's services return: small dataclasses and enums, no ORM or SpiffWorkflow objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class InstanceState(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"  # nothing to do for people; waits for a timer or message
    SUSPENDED = "suspended"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ERROR = "error"


class TaskState(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class AuditType(StrEnum):
    """The one vocabulary of audit events, `subject_past_tense_verb`."""

    DEFINITION_DEPLOYED = "definition_deployed"
    INSTANCE_STARTED = "instance_started"
    INSTANCE_COMPLETED = "instance_completed"
    INSTANCE_CANCELLED = "instance_cancelled"
    INSTANCE_SUSPENDED = "instance_suspended"
    INSTANCE_RESUMED = "instance_resumed"
    TASK_CREATED = "task_created"
    TASK_CLAIMED = "task_claimed"
    TASK_UNCLAIMED = "task_unclaimed"
    TASK_ASSIGNED = "task_assigned"
    TASK_COMPLETED = "task_completed"
    TASK_REFUSED = "task_refused"
    TIMER_FIRED = "timer_fired"
    TIMER_RESCHEDULED = "timer_rescheduled"
    MESSAGE_RECEIVED = "message_received"
    INCIDENT_CREATED = "incident_created"
    INCIDENT_RETRIED = "incident_retried"
    INCIDENT_RESOLVED = "incident_resolved"
    USER_CREATED = "user_created"
    USER_CHANGED = "user_changed"
    GROUP_CHANGED = "group_changed"
    LOGIN_FAILED = "login_failed"
    TOKEN_CREATED = "token_created"  # noqa: S105
    TOKEN_REVOKED = "token_revoked"  # noqa: S105


class Role(StrEnum):
    STAFF = "staff"
    PROCESS_OWNER = "process_owner"
    AUDITOR = "auditor"
    ADMIN = "admin"


@dataclass(frozen=True)
class Actor:
    """Who is acting: a person with groups and roles, or the system itself."""

    username: str
    groups: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()

    @classmethod
    def system(cls) -> Actor:
        return cls("system", roles=frozenset({Role.ADMIN}))

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


@dataclass(frozen=True)
class DefinitionView:
    id: int
    key: str
    version: int
    name: str
    content_hash: str
    deployed_by: str
    deployed_at: datetime
    start_form_key: str | None = None
    instance_count: int | None = None


@dataclass(frozen=True)
class DeployResult:
    definitions: list[DefinitionView]
    created: list[str]  # keys that got a new version
    unchanged: list[str]  # keys whose content was already deployed


@dataclass(frozen=True)
class TaskView:
    id: str
    instance_id: str
    key: str
    definition_id: int
    element_id: str
    name: str
    form_key: str | None
    lane: str | None
    assignee: str | None
    candidate_users: list[str]
    candidate_groups: list[str]
    due: datetime | None
    priority: int
    state: TaskState
    created: datetime
    business_key: str | None = None
    completed_by: str | None = None
    completed_at: datetime | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InstanceView:
    id: str
    key: str
    definition_id: int
    version: int
    state: InstanceState
    data: dict[str, Any]
    business_key: str | None
    started_by: str
    started_at: datetime
    ended_at: datetime | None
    open_tasks: list[TaskView]
    completed_element_ids: list[str]
    active_element_ids: list[str]
    row_version: int = 0


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int


@dataclass(frozen=True)
class AuditEventView:
    id: int
    type: str
    occurred_at: datetime
    actor: str | None
    instance_id: str | None
    task_id: str | None
    definition_id: int | None
    process_key: str | None
    data: Any
    hash: str
    prev_hash: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_event: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class MessageResult:
    """Where a message went: the case it was delivered to or started."""

    instance_id: str
    started: bool  # a new case was started by a message start event
    state: str


@dataclass(frozen=True)
class IncidentView:
    id: int
    instance_id: str | None
    process_key: str | None
    element_id: str | None
    error_type: str
    message: str
    details: Any
    state: str
    created_at: datetime
    resolved_by: str | None = None
    resolved_at: datetime | None = None
