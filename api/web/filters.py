"""Template filters: bilingual names, dates in the company's zone, due-date urgency, data values."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from flask import g
from flask_babel import format_datetime
from flask_babel import gettext as _

from engine.db.types import utcnow
from engine.views import AuditType

from .base import svc, web
from .formdata import LOCAL_ZONE
from .i18n import page_language

DUE_SOON = timedelta(hours=24)


@web.app_template_filter("bilingual")
def bilingual(name: str | None) -> str:
    """'中文 / English' names of diagrams and tasks, in the page's language."""
    if not name:
        return ""
    zh, sep, en = name.partition(" / ")
    if not sep:
        return name
    return zh.strip() if page_language() == "zh" else en.strip()


@web.app_template_filter("localized")
def localized(value: Any, fallback: str = "") -> str:
    """{"zh": .., "en": ..} in the page's language, else the other language, else `fallback`."""
    if isinstance(value, dict):
        lang = page_language()
        return str(value.get(lang) or value.get("zh") or value.get("en") or fallback)
    return fallback if value is None or value == "" else str(value)


@web.app_template_global("pretty")
def pretty(data: Any) -> str:
    """Data for a <pre>: indented JSON, escaped by the template like any other text."""
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str)


@web.app_template_filter("when")
def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return format_datetime(moment.astimezone(LOCAL_ZONE), "yyyy-MM-dd HH:mm")


@web.app_template_filter("urgency")
def urgency(due: datetime | None) -> str:
    """'overdue', 'due-soon' (within a day) or ''."""
    if due is None:
        return ""
    now = utcnow()
    if due <= now:
        return "overdue"
    return "due-soon" if due - now <= DUE_SOON else ""


@web.app_template_filter("show_value")
def show_value(value: Any) -> str:
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(show_value(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, indent=1, default=str)
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        try:
            return when(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def _state_labels() -> dict[str, str]:
    return {"open": _("open"), "claimed": _("claimed"), "completed": _("completed"), "cancelled": _("cancelled"),
            "running": _("running"), "waiting": _("waiting"), "suspended": _("suspended"), "error": _("error")}


@web.app_template_global("state_label")
def state_label(state: str) -> str:
    """A task's or case's state in the page's language."""
    return _state_labels().get(str(state), str(state))


def _event_labels() -> dict[str, str]:
    labels = {
        AuditType.DEFINITION_DEPLOYED: _("Diagram deployed"), AuditType.INSTANCE_STARTED: _("Case started"),
        AuditType.INSTANCE_COMPLETED: _("Case completed"), AuditType.INSTANCE_CANCELLED: _("Case cancelled"),
        AuditType.INSTANCE_SUSPENDED: _("Case suspended"), AuditType.INSTANCE_RESUMED: _("Case resumed"),
        AuditType.TASK_CREATED: _("Task created"), AuditType.TASK_CLAIMED: _("Task claimed"),
        AuditType.TASK_UNCLAIMED: _("Task unclaimed"), AuditType.TASK_ASSIGNED: _("Task assigned"),
        AuditType.TASK_COMPLETED: _("Task completed"), AuditType.TASK_REFUSED: _("Completion refused"),
        AuditType.TIMER_FIRED: _("Timer fired"), AuditType.TIMER_RESCHEDULED: _("Timer rescheduled"),
        AuditType.MESSAGE_RECEIVED: _("Message received"), AuditType.INCIDENT_CREATED: _("Incident"),
        AuditType.INCIDENT_RETRIED: _("Incident retried"), AuditType.INCIDENT_RESOLVED: _("Incident resolved"),
        AuditType.USER_CREATED: _("User created"), AuditType.USER_CHANGED: _("User changed"),
        AuditType.GROUP_CHANGED: _("Group changed"), AuditType.LOGIN_FAILED: _("Sign-in failed"),
        AuditType.TOKEN_CREATED: _("Signed in / token issued"),
        AuditType.TOKEN_REVOKED: _("Signed out / token revoked"),
    }
    assert len(labels) == len(AuditType), "every audit event type needs a label"
    return {str(kind): label for kind, label in labels.items()}


@web.app_template_global("event_label")
def event_label(kind: str) -> str:
    """An audit event type in the page's language."""
    return _event_labels().get(str(kind), str(kind))


@web.app_template_filter("group_names")
def group_names(keys: list[str]) -> str:
    """Group keys as the org chart names them, in the page's language (read once per request)."""
    names = g.get("_group_names")
    if names is None:
        names = g._group_names = {group.key: group.name for group in svc().identity.list_groups()}
    return ", ".join(localized(names[key]) if key in names else key for key in keys)


@web.app_template_filter("people")
def people(usernames: str | list[str] | None) -> str:
    """People by their names in the page's language, the user name where they have none (one query per request
    for the names not yet seen)."""
    if not usernames:
        return ""
    wanted = [usernames] if isinstance(usernames, str) else list(usernames)
    names: dict[str, dict[str, str] | None] = g.setdefault("_people", {})
    unseen = {name for name in wanted if name not in names}
    if unseen:
        found = svc().identity.display_names(unseen)
        names.update({name: found.get(name) for name in unseen})
    return ", ".join(localized(display) if (display := names[name]) else name for name in wanted)
