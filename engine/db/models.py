"""The tables. Schema changes go through Alembic migrations in engine/migrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .types import JSONType, UTCDateTime


class Base(DeclarativeBase):
    pass


class DefinitionSource(Base):
    """The verbatim BPMN/DMN files one process needs, stored once by content hash."""

    __tablename__ = "definition_source"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    files: Mapped[dict[str, str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProcessDefinition(Base):
    """One deployed version of a process key."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_process_definition_key_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(ForeignKey("definition_source.content_hash"))
    start_form_key: Mapped[str | None] = mapped_column(String(200))
    deployed_by: Mapped[str] = mapped_column(String(200))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProcessInstance(Base):
    """A case. `version` is checked and bumped on every write (engine.records.write_case)."""

    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_process_instance_key_state", "process_key", "state"),
        Index("ix_process_instance_started_by", "started_by"),
        Index("ux_process_instance_number", "number", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # 1, 2, 3, ... in start order (engine.records.next_case_number); its task rows are keyed by it
    number: Mapped[int] = mapped_column(BigInteger)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
    state: Mapped[str] = mapped_column(String(20))
    started_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[Any] = mapped_column(JSONType)
    completed_elements: Mapped[list[str]] = mapped_column(JSONType)
    active_elements: Mapped[list[str]] = mapped_column(JSONType)
    engine_header: Mapped[str] = mapped_column(Text)
    next_task_seq: Mapped[int] = mapped_column(BigInteger)


class EngineTask(Base):
    """One SpiffWorkflow task of a case, serialized; rewritten only when it changes.

    Keyed by `row_key` = the case's number * 2^32 + the row's sequence number in the case (engine.cases):
    a case's rows are one range of the primary key, in write order, and on SQLite the key is the rowid,
    so a row written is one B-tree entry (migration 0007). No other index: every step writes rows."""

    __tablename__ = "engine_task"

    row_key: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                         autoincrement=False)
    instance_id: Mapped[str] = mapped_column(String(36))
    task_id: Mapped[str] = mapped_column(String(36))
    workflow_id: Mapped[str] = mapped_column(String(36))
    body: Mapped[str] = mapped_column(Text)


class HumanTask(Base):
    """The inbox: user tasks, queryable without loading workflows."""

    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_assignee_state", "assignee", "state"),
        Index("ix_human_task_state_created", "state", "created_at"),
        Index("ix_human_task_key_state", "process_key", "state"),
        Index("ix_human_task_instance", "instance_id", "element_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    process_key: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(500))
    form_key: Mapped[str | None] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(200))
    candidate_users: Mapped[list[str]] = mapped_column(JSONType)
    candidate_groups: Mapped[list[str]] = mapped_column(JSONType)
    properties: Mapped[dict[str, str]] = mapped_column(JSONType)
    priority: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(20))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[str | None] = mapped_column(String(200))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_data: Mapped[Any | None] = mapped_column(JSONType)


class TaskCandidate(Base):
    """One candidate (user or group) of a human task, so "offered to me" is an index lookup."""

    __tablename__ = "human_task_candidate"
    __table_args__ = (Index("ix_human_task_candidate_lookup", "kind", "name", "task_id"),)

    task_id: Mapped[str] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(5), primary_key=True)  # "user" | "group"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)


class AuditEvent(Base):
    """Append-only; each row carries its own hash and the previous row's hash."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_instance", "instance_id", "id"),
        Index("ix_audit_event_actor", "actor", "id"),
        Index("ix_audit_event_type", "type", "id"),
        Index("ix_audit_event_occurred", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(60))
    actor: Mapped[str | None] = mapped_column(String(200))
    instance_id: Mapped[str | None] = mapped_column(String(36))
    task_id: Mapped[str | None] = mapped_column(String(36))
    definition_id: Mapped[int | None] = mapped_column(Integer)
    process_key: Mapped[str | None] = mapped_column(String(200))
    # Canonical JSON text, exactly as hashed (a JSON column may renormalize numbers).
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The end of the chain; locking this row serializes appends, and it reveals truncation."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(BigInteger)


class Incident(Base):
    """A failure recorded on a case (or on a definition when a start failed)."""

    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_state_created", "state", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str | None] = mapped_column(String(36), index=True)
    definition_id: Mapped[int | None] = mapped_column(Integer)
    process_key: Mapped[str | None] = mapped_column(String(200))
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(200))
    error_type: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[Any] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MessageWait(Base):
    """A case waiting for a message (one row per waiting catch event), kept in step with the case."""

    __tablename__ = "message_wait"
    __table_args__ = (
        Index("ix_message_wait_name", "message_name"),
        Index("ix_message_wait_instance", "instance_id"),
    )

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    message_name: Mapped[str] = mapped_column(String(200))


class MessageReceipt(Base):
    """A delivered message by its client's Idempotency-Key: a retry gets the same answer and no new effect."""

    __tablename__ = "message_receipt"

    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    message_name: Mapped[str] = mapped_column(String(200))
    instance_id: Mapped[str] = mapped_column(String(36))
    result: Mapped[Any] = mapped_column(JSONType)
    received_by: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Job(Base):
    """Work due at a time: a timer a case waits on (written and removed in the step that starts or ends the wait),
    or the next scheduled start of a process with a timer start event (`task_id` is "start:<key>")."""

    __tablename__ = "job"
    __table_args__ = (
        UniqueConstraint("kind", "task_id", name="uq_job_kind_task"),
        Index("ix_job_due", "due_at"),
        Index("ix_job_instance", "instance_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    instance_id: Mapped[str | None] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id"))
    payload: Mapped[Any | None] = mapped_column(JSONType)  # a scheduled start: {kind, cycles, duration}
    task_id: Mapped[str] = mapped_column(String(210))
    element_id: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    locked_by: Mapped[str | None] = mapped_column(String(200))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Notification(Base):
    """A notice for a person or a group: shown in the inbox, mailed when SMTP is configured."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_recipient", "recipient_kind", "recipient", "id"),
        # Only pending notices: the mailer asks for exactly these, and a sent notice leaves the index.
        Index("ix_notification_email_pending", "id", sqlite_where=text("email_state = 'pending'"),
              postgresql_where=text("email_state = 'pending'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(30))  # task_assigned, task_offered, deadline_warning, deadline_passed
    instance_id: Mapped[str | None] = mapped_column(String(36))
    task_id: Mapped[str | None] = mapped_column(String(36))
    recipient_kind: Mapped[str] = mapped_column(String(5))  # "user" | "group"
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    email_state: Mapped[str] = mapped_column(String(10))  # pending, sent, failed, none
    email_attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    email_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
