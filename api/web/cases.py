"""Starting a request, the cases a user started or took part in, and one case's page."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.errors import EngineError, ScriptError, ValidationFailed
from engine.views import InstanceState

from ..problems import status_of
from ..queries import form_schema
from .base import actor, svc, web
from .casedata import labelled
from .formdata import fields_of, parse_form
from .i18n import page_language

bp = Blueprint("cases", __name__)
PER_PAGE = 20
BUSINESS_KEY_MAX = 200


@bp.route("/start")
def start_list() -> str:
    lang = page_language()
    procedures = svc().engine.definitions.startable(actor())
    forms = {d.key: form_schema(svc().engine, d.start_form_key, lang) for d in procedures}
    return render_template("cases/start_list.html", procedures=procedures, forms=forms, active_area="start")


def _start_page(key: str, *, errors: dict[str, list[str]] | None = None, status: int = 200,
                problem: str | None = None) -> Response:
    definition = svc().engine.definitions.startable_one(key, actor())
    schema = form_schema(svc().engine, definition.start_form_key, page_language())
    posted = request.form if request.method == "POST" else None
    body = render_template("cases/start.html", definition=definition, schema=schema,
                           fields=fields_of(schema, {}, errors, raw=posted), errors=errors or {}, problem=problem,
                           business_key=posted.get("business_key", "") if posted else "", active_area="start")
    return Response(body, status=status, mimetype="text/html")


@bp.route("/start/<key>")
def start_form(key: str) -> Response:
    return _start_page(key)


@bp.route("/start/<key>", methods=["POST"])
def start(key: str) -> Response:
    who = actor()
    lang = page_language()
    definition = svc().engine.definitions.startable_one(key, who)
    schema = form_schema(svc().engine, definition.start_form_key, lang)
    business_key = request.form.get("business_key", "").strip() or None
    if business_key and len(business_key) > BUSINESS_KEY_MAX:
        return _start_page(key, errors={"business_key": [_("At most %(n)s characters.", n=BUSINESS_KEY_MAX)]},
                           status=422, problem=_("The form has errors. Nothing was started."))
    try:
        case = svc().engine.instances.start(key, parse_form(schema, request.form), who, business_key=business_key,
                                            language=lang)
    except ValidationFailed as exc:
        return _start_page(key, errors=exc.errors, status=422,
                           problem=_("The form has errors. Nothing was started; correct the marked fields."))
    except (ScriptError, EngineError) as exc:  # rolled back, an incident recorded
        return _start_page(key, status=status_of(exc), problem=_(
            "The procedure could not start: %(error)s. Nothing was started and an incident was recorded for "
            "the administrators; what you entered is still here.", error=exc.message))
    flash(_("The case was started."), "success")
    mine = [t for t in case.open_tasks if t.assignee == who.username]
    if mine:
        return redirect(url_for("web.inbox.task", task_id=mine[0].id))  # type: ignore[return-value]
    return redirect(url_for("web.cases.case", instance_id=case.id))  # type: ignore[return-value]


@bp.route("/cases")
def my_cases() -> str:
    args = request.args
    who = actor()
    state = args.get("state") if args.get("state") in [s.value for s in InstanceState] else None
    scope = "started" if args.get("scope") == "started" else "involved"
    try:
        number = max(1, int(args.get("page") or 1))
    except ValueError:
        number = 1
    filters = {"key": args.get("key") or None, "state": state, "scope": scope}
    page = svc().engine.instances.list(who, key=filters["key"], state=state, page=number, per_page=PER_PAGE,
                                       started_by=who.username if scope == "started" else None,
                                       only_involved=True)
    processes = svc().engine.definitions.list_latest()
    return render_template("cases/list.html", page=page, filters=filters, processes=processes,
                           process_names={d.key: d.name for d in processes}, states=list(InstanceState),
                           active_area="cases")


@bp.route("/cases/<instance_id>")
def case(instance_id: str) -> str:
    who = actor()
    instance = svc().engine.instances.get(instance_id, who)
    timeline = svc().engine.trail.case_timeline(instance_id, who)
    definition = svc().engine.definitions.get(instance.key, instance.version)
    return render_template("cases/case.html", instance=instance, timeline=timeline, definition=definition,
                           data=labelled(instance.data, svc().engine.forms, page_language()),
                           active_area="cases")


web.register_blueprint(bp)
