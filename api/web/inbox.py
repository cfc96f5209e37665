"""The task inbox (my tasks and my groups' tasks) and the task page with its form."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.errors import Conflict, EngineError, PermissionDenied, ScriptError, ValidationFailed
from engine.views import TaskState

from ..problems import status_of
from ..queries import form_schema
from .base import actor, safe_next, svc, web
from .casedata import labelled
from .filters import bilingual
from .formdata import fields_of, parse_form
from .i18n import page_language
from .refusals import refusal

bp = Blueprint("inbox", __name__)
TABS = ("mine", "candidate")
SORTS = ("due", "priority", "created")
PER_PAGE = 20


def _int(value: str | None, default: int) -> int:
    try:
        return max(1, int(value or default))
    except ValueError:
        return default


@bp.route("/")
def home() -> Response:
    return redirect(url_for("web.inbox.inbox"))  # type: ignore[return-value]


@bp.route("/inbox")
def inbox() -> str:
    args = request.args
    tab = args.get("tab") if args.get("tab") in TABS else "mine"
    state = args.get("state") if args.get("state") in [s.value for s in TaskState] else None
    sort = args.get("sort") if args.get("sort") in SORTS else "due"
    filters = {"key": args.get("key") or None, "q": (args.get("q") or "").strip() or None, "state": state,
               "sort": sort}
    who = actor()
    inbox = svc().engine.inbox
    page = inbox.query(who, mine=tab == "mine", candidate=tab == "candidate", page=_int(args.get("page"), 1),
                       per_page=PER_PAGE, **filters)  # type: ignore[arg-type]
    processes = svc().engine.definitions.list_latest()
    return render_template("inbox/inbox.html", page=page, tab=tab, counts=inbox.counts(who), filters=filters,
                           processes=processes, process_names={d.key: d.name for d in processes},
                           states=list(TaskState), sorts=SORTS, active_area="inbox")


@bp.route("/tasks/<task_id>/claim", methods=["POST"])
def claim(task_id: str) -> Response:
    task = svc().engine.tasks.claim(task_id, actor())
    flash(_("You took “%(name)s”.", name=bilingual(task.name)), "success")
    return _back(task_id)


@bp.route("/tasks/<task_id>/unclaim", methods=["POST"])
def unclaim(task_id: str) -> Response:
    task = svc().engine.tasks.unclaim(task_id, actor())
    flash(_("“%(name)s” is back with its candidates.", name=bilingual(task.name)), "success")
    return _back(task_id)


def _back(task_id: str) -> Response:
    return redirect(safe_next(request.form.get("next"), url_for("web.inbox.task", task_id=task_id)))  # type: ignore[return-value]


def _task_page(task_id: str, *, errors: dict[str, list[str]] | None = None, posted: Any = None,
               status: int = 200, problem: str | None = None) -> Response:
    lang = page_language()
    engine = svc().engine
    task, instance = engine.tasks.get(task_id, actor())
    schema = form_schema(engine, task.form_key, lang)
    shown = (schema or {}).get("x-show")
    context = labelled(instance.data, engine.forms, lang, only=shown) if shown else []
    body = render_template(
        "inbox/task.html", task=task, schema=schema, fields=fields_of(schema, instance.data, errors, raw=posted),
        context=context, all_data=labelled(instance.data, engine.forms, lang), errors=errors or {},
        problem=problem, instance=instance, active_area="inbox", open_states=(TaskState.OPEN, TaskState.CLAIMED),
        kept=posted is not None, definition=engine.definitions.get(task.key, instance.version))
    return Response(body, status=status, mimetype="text/html")


@bp.route("/tasks/<task_id>")
def task(task_id: str) -> Response:
    return _task_page(task_id)


@bp.route("/tasks/<task_id>", methods=["POST"])
def complete(task_id: str) -> Response:
    """Complete with the posted form; on refusal show the form again with what was typed and the messages."""
    who = actor()
    lang = page_language()
    engine = svc().engine
    task, _instance = engine.tasks.get(task_id, who)
    try:
        data = parse_form(form_schema(engine, task.form_key, lang), request.form)
        after = engine.tasks.complete(task_id, data, who, language=lang)
    except ValidationFailed as exc:
        return _task_page(task_id, errors=exc.errors, posted=request.form, status=422,
                          problem=_("The form has errors. Nothing was saved; correct the marked fields."))
    except (Conflict, PermissionDenied) as exc:
        return _task_page(task_id, posted=request.form, status=status_of(exc), problem=refusal(exc))
    except (ScriptError, EngineError) as exc:  # the step was rolled back and an incident recorded
        return _task_page(task_id, posted=request.form, status=status_of(exc), problem=_(
            "The procedure could not go on after this task: %(error)s. Nothing was saved and an incident was "
            "recorded for the administrators; what you entered is still here.", error=exc.message))
    flash(_("“%(name)s” is done.", name=bilingual(task.name)), "success")
    mine_next = [t for t in after.open_tasks if t.assignee == who.username]
    if mine_next:
        return redirect(url_for("web.inbox.task", task_id=mine_next[0].id))  # type: ignore[return-value]
    return redirect(url_for("web.inbox.inbox"))  # type: ignore[return-value]


web.register_blueprint(bp)
