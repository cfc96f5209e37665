"""Reads that combine two services, kept out of the routes so they stay one call each.

"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from engine.core import Engine
from engine.errors import NotFound, ValidationFailed
from engine.views import Actor, AuditEventView, Page, Role, TaskView, VerifyResult

from .extensions import Services


def form_schema(engine: Engine, form_key: str | None, lang: str) -> dict[str, Any] | None:
    """The form as one JSON Schema: the form's title/description on top, its `show` hints as `x-show`."""
    if not form_key or engine.forms is None:
        return None
    form = engine.forms.get(form_key, lang)
    schema = dict(form.get("schema") or {})
    schema.setdefault("title", form.get("title"))
    if form.get("description"):
        schema.setdefault("description", form["description"])
    if form.get("show"):
        schema["x-show"] = form["show"]
    schema["x-form-key"] = form_key
    return schema


def task_detail(engine: Engine, task_id: str, actor: Actor, lang: str) -> dict[str, Any]:
    """A task with its localized form and its case's data. Raises NotFound, PermissionDenied."""
    task, instance = engine.tasks.get(task_id, actor)
    return {**asdict(task), "form": form_schema(engine, task.form_key, lang), "data": instance.data,
            "instance_state": instance.state}


def assign_task(services: Services, task_id: str, user: str, actor: Actor) -> TaskView:
    """Assign to an existing user only. Raises ValidationFailed (unknown user) and the engine's errors."""
    if actor.has_role(Role.ADMIN):  # non-admins get the engine's refusal, without learning who exists
        try:
            services.identity.get_user(user)
        except NotFound:
            raise ValidationFailed("no such user", {"user": [f"no user {user!r}"]})
    return services.engine.tasks.assign(task_id, user, actor)


def _filters(args: dict[str, Any]) -> dict[str, Any]:
    names = {"instance_id": "instance_id", "actor": "user", "type": "type", "key": "process_key",
             "since": "since", "until": "until"}
    return {target: args[source] for source, target in names.items() if args.get(source) is not None}


def audit_page(engine: Engine, actor: Actor, args: dict[str, Any]) -> Page[AuditEventView]:
    return engine.trail.events(actor, page=args["page"], per_page=args["per_page"], **_filters(args))


def audit_verify(engine: Engine, actor: Actor) -> VerifyResult:
    return engine.trail.verify(actor)


def audit_stream(engine: Engine, actor: Actor, args: dict[str, Any]) -> Iterator[AuditEventView]:
    """Every matching event, oldest first (the permission is checked before streaming)."""
    return engine.trail.stream(actor, **_filters(args))
