"""The audit pages: the filtered trail with its exports, a case's full history, verifying the chain."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import get_timezone, to_user_timezone, to_utc
from flask_babel import gettext as _
from marshmallow import ValidationError

from engine.core import Engine
from engine.errors import NotFound
from engine.views import Actor, AuditEventView, AuditType, DefinitionView, InstanceView, Role

from ..queries import audit_page, audit_stream, audit_verify
from ..schemas.audit import AuditListArgs
from ..schemas.common import MAX_PAGE
from .base import actor, roles, svc, web
from .filters import event_label

bp = Blueprint("audit", __name__, url_prefix="/audit")

PER_PAGE = 50
FILTERS = ("key", "instance_id", "actor", "type", "from", "to")  # the API's names, so the export carries them
SUMMARY_LENGTH = 90

def summary(data: Any) -> str:
    """One line of an event's data: `key: value` pairs, cut short."""
    if not data:
        return ""
    if isinstance(data, dict):
        text = ", ".join(f"{k}: {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)}"
                         for k, v in data.items())
    else:
        text = json.dumps(data, ensure_ascii=False, default=str)
    return text if len(text) <= SUMMARY_LENGTH else text[:SUMMARY_LENGTH - 1] + "…"


def _local_input(value: datetime | None) -> str:
    """A UTC time as the value of a datetime-local input, in the page's time zone."""
    return to_user_timezone(value).strftime("%Y-%m-%dT%H:%M") if value else ""


def _as_utc(text: str) -> str:
    """A datetime-local value (the page's time zone) as an ISO time with offset; unparsable text is kept."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text
    if parsed.tzinfo is None:
        parsed = to_utc(parsed).replace(tzinfo=UTC)
    return parsed.isoformat()


@dataclass
class TrailFilter:
    """The filter as typed (to show again), as loaded by the API's schema, and its errors by field."""

    typed: dict[str, str]
    args: dict[str, Any]
    errors: dict[str, list[str]]

    def query(self, **extra: Any) -> dict[str, Any]:
        """The filter as URL parameters (times as ISO with offset), for paging and the export links."""
        names = {"key": "key", "instance_id": "instance_id", "actor": "actor", "type": "type",
                 "since": "from", "until": "to"}
        params = {target: self.args[source] for source, target in names.items() if self.args.get(source)}
        for name in ("from", "to"):
            if name in params:
                params[name] = params[name].astimezone(UTC).isoformat()
        return {**params, **extra}


def read_filter() -> TrailFilter:
    typed = {name: request.args.get(name, "").strip() for name in FILTERS}
    given: dict[str, Any] = {name: value for name, value in typed.items() if value}
    for name in ("from", "to"):
        if name in given:
            given[name] = _as_utc(given[name])
    given["page"] = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)  # a bad page number: page 1
    given["per_page"] = PER_PAGE
    try:
        return TrailFilter(typed, AuditListArgs().load(given), {})
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_": exc.messages}
        errors = {str(k): [_(str(m)) for m in (v if isinstance(v, list) else [v])] for k, v in messages.items()}
        return TrailFilter(typed, {"page": 1, "per_page": PER_PAGE}, errors)


def version_numbers(engine: Engine, events: list[AuditEventView]) -> dict[int, int]:
    """definition id -> version number for the definitions these events mention."""
    numbers: dict[int, int] = {}
    for key in sorted({e.process_key for e in events if e.process_key and e.definition_id}):
        try:
            numbers.update({d.id: d.version for d in engine.definitions.versions(key)})
        except NotFound:  # an event about a key that has no definition (any more) just shows no version
            continue
    return numbers


@dataclass
class CaseHistory:
    instance: InstanceView
    definition: DefinitionView
    events: list[AuditEventView]


def case_history(engine: Engine, who: Actor, instance_id: str) -> CaseHistory:
    """A case, the diagram version it runs on and every event about it. Raises NotFound, PermissionDenied."""
    instance = engine.instances.get(instance_id, who)
    definition = engine.definitions.get(instance.key, instance.version)
    events = list(audit_stream(engine, who, {"instance_id": instance_id}))
    return CaseHistory(instance, definition, events)


def _common() -> dict[str, Any]:
    return {"summary": summary, "timezone": str(get_timezone())}


@bp.route("")
@roles(Role.AUDITOR)
def events() -> Response:
    engine = svc().engine
    trail = read_filter()
    page = audit_page(engine, actor(), trail.args) if not trail.errors else None
    items = page.items if page else []
    body = render_template(
        "audit/events.html", trail=trail, page=page, events=items, versions=version_numbers(engine, items),
        definitions=engine.definitions.list_latest(), types=[(t.value, event_label(t)) for t in AuditType],
        since=_local_input(trail.args.get("since")), until=_local_input(trail.args.get("until")),
        csv_url=url_for("audit.export", **trail.query(format="csv")),
        json_url=url_for("audit.export", **trail.query(format="json")), **_common())
    return Response(body, status=422 if trail.errors else 200, mimetype="text/html")


@bp.route("/cases/<instance_id>")
@roles(Role.AUDITOR)
def case(instance_id: str) -> str:
    engine = svc().engine
    history = case_history(engine, actor(), instance_id)
    instance = history.instance
    marks = {"completed": instance.completed_element_ids, "active": instance.active_element_ids}
    xml_url = url_for("definitions.xml", key=instance.key, version=instance.version)
    return render_template("audit/case.html", history=history, instance=instance, definition=history.definition,
                           marks=marks, xml_url=xml_url, **_common())


@bp.route("/verify", methods=["POST"])
@roles(Role.AUDITOR)
def verify() -> str:
    result = audit_verify(svc().engine, actor())
    # ids are consecutive and the unfiltered trail is ordered by id: the bad event's page can be found
    where = None
    if result.first_bad_event:
        where = url_for("web.audit.events", page=(result.first_bad_event - 1) // PER_PAGE + 1,
                        _anchor=f"event-{result.first_bad_event}")
    return render_template("audit/verify.html", result=result, where=where, now=datetime.now(UTC), **_common())


web.register_blueprint(bp)
