"""Notices to people: a task for you or your group, a deadline near or passed.

A notice is written in the same transaction as the step that caused it, so a rolled-back step sends
nothing. The inbox lists them; a worker mails the pending ones when SMTP is configured (a group's notice
goes to every member with an email address).
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .db.fast import FastSQL
from .db.models import Notification
from .db.paging import page_of
from .db.session import Database
from .db.types import utcnow
from .settings import Settings
from .views import Actor, Page

log = logging.getLogger(__name__)

SUBJECTS = {
    "task_assigned": ("新任务", "New task"),
    "task_offered": ("待领取任务", "Task for your group"),
    "deadline_warning": ("即将超时", "Deadline approaching"),
    "deadline_passed": ("已超时并升级", "Deadline passed, escalated"),
}


@dataclass(frozen=True)
class NotificationView:
    id: int
    kind: str
    instance_id: str | None
    task_id: str | None
    recipient_kind: str
    recipient: str
    subject: str
    body: str
    created_at: datetime
    email_state: str


@dataclass(frozen=True)
class Notice:
    kind: str
    instance_id: str
    task_id: str
    task_name: str
    process_key: str
    business_key: str | None
    recipients: list[tuple[str, str]]  # ("user" | "group", name)


def notices_for_new_task(task: Any, row: Any) -> Notice:
    """Who hears of a new task: its assignee, or else its candidate users and groups."""
    if task.assignee:
        recipients, kind = [("user", task.assignee)], "task_assigned"
    else:
        recipients = [("user", u) for u in task.candidate_users] + [("group", g) for g in task.candidate_groups]
        kind = "task_offered"
    return Notice(kind, row.id, task.task_id, task.name, row.process_key, row.business_key, recipients)


def write_notices(fast: FastSQL, session: Session, notices: list[Notice], now: datetime, base_url: str) -> None:
    rows = []
    for notice in notices:
        zh, en = SUBJECTS[notice.kind]
        subject = f"{zh}：{notice.task_name} / {en}: {notice.task_name}"
        body = "\n".join([
            subject,
            f"流程 / Process: {notice.process_key}" + (f"  ({notice.business_key})" if notice.business_key else ""),
            f"{base_url.rstrip('/')}/api/tasks/{notice.task_id}",
        ])
        for kind, name in dict.fromkeys(notice.recipients):
            rows.append({"kind": notice.kind, "instance_id": notice.instance_id, "task_id": notice.task_id,
                         "recipient_kind": kind, "recipient": name, "subject": subject, "body": body,
                         "created_at": fast.ts(now)})
    fast.execute_many(
        session,
        "INSERT INTO notification (kind, instance_id, task_id, recipient_kind, recipient, subject, body, created_at, "
        "email_state, email_attempts) VALUES (:kind, :instance_id, :task_id, :recipient_kind, :recipient, :subject, "
        ":body, :created_at, 'pending', 0)",
        rows,
    )


def _view(row: Notification) -> NotificationView:
    return NotificationView(row.id, row.kind, row.instance_id, row.task_id, row.recipient_kind, row.recipient,
                            row.subject, row.body, row.created_at, row.email_state)


class NotificationService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def for_actor(self, actor: Actor, *, page: int = 1, per_page: int = 50) -> Page[NotificationView]:
        """Notices for the actor and their groups, newest first."""
        mine = (Notification.recipient_kind == "user") & (Notification.recipient == actor.username)
        groups = (Notification.recipient_kind == "group") & Notification.recipient.in_(sorted(actor.groups) or [""])
        with self.db.reading() as session:
            return page_of(session, select(Notification).where(or_(mine, groups)),
                           (Notification.id.desc(),), page, per_page, _view)


class Mailer:
    """Sends pending notices by SMTP (settings.smtp_*); does nothing when no SMTP host is set."""

    def __init__(self, db: Database, settings: Settings, *, max_attempts: int = 5) -> None:
        self.db = db
        self.settings = settings
        self.max_attempts = max_attempts

    @property
    def configured(self) -> bool:
        return bool(self.settings.smtp_host)

    def send_pending(self, limit: int = 50) -> int:
        """Mail up to `limit` pending notices; how many were sent."""
        if not self.configured:
            return 0
        fast = self.db.fast
        with self.db.reading() as session:
            pending = fast.fetch(session, "SELECT id, recipient_kind, recipient, subject, body, email_attempts "
                                 "FROM notification WHERE email_state = 'pending' ORDER BY id LIMIT :limit",
                                 {"limit": limit})
            addresses = {n["id"]: self._addresses(session, n["recipient_kind"], n["recipient"]) for n in pending}
        sent = 0
        for notice in pending:
            state, error = "none", None
            if addresses[notice["id"]]:
                try:
                    self._send(addresses[notice["id"]], notice["subject"], notice["body"])
                    state, sent = "sent", sent + 1
                except (OSError, smtplib.SMTPException) as exc:
                    error = str(exc)[:2000]
                    state = "failed" if notice["email_attempts"] + 1 >= self.max_attempts else "pending"
                    log.warning("mailing notice %s failed: %s", notice["id"], exc)
            with self.db.transaction() as session:
                fast.execute(session, "UPDATE notification SET email_state = :state, email_attempts = "
                             "email_attempts + 1, email_error = :error, sent_at = :sent WHERE id = :id",
                             {"id": notice["id"], "state": state, "error": error,
                              "sent": fast.ts(utcnow()) if state == "sent" else None})
        return sent

    def _addresses(self, session: Session, kind: str, name: str) -> list[str]:
        if kind == "user":
            rows = self.db.fast.fetch(session, "SELECT email FROM app_user WHERE username = :name AND active = :yes "
                                      "AND email IS NOT NULL", {"name": name, "yes": True})
        else:
            rows = self.db.fast.fetch(
                session, "SELECT u.email FROM app_user u JOIN user_group_member m ON m.user_id = u.id "
                "WHERE m.group_key = :name AND u.active = :yes AND u.email IS NOT NULL ORDER BY u.email",
                {"name": name, "yes": True})
        return [r["email"] for r in rows]

    def _send(self, to: list[str], subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.settings.smtp_from
        message["To"] = ", ".join(to)
        message["Subject"] = subject
        message.set_content(body)
        with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=10) as smtp:
            if self.settings.smtp_starttls:
                smtp.starttls()
            if self.settings.smtp_user:
                smtp.login(self.settings.smtp_user, self.settings.smtp_password)
            smtp.send_message(message)
