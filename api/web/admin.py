"""The admin pages: incidents with retry and resolve, the org chart's groups, users' tokens and sessions.

The user pages (list, create, change, reset password) are in admin_users.py, on the same blueprint.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engine.errors import Conflict, NotFound
from engine.identity import GroupView
from engine.views import Role

from .base import actor, principal, roles, svc, web

bp = Blueprint("admin", __name__, url_prefix="/admin")

PER_PAGE = 25
INCIDENT_STATES = {"open": _l("Open"), "retried": _l("Retried"), "resolved": _l("Resolved")}
COMMENT_LENGTH = 2000


def group_names(groups: list[GroupView]) -> dict[str, dict[str, str]]:
    return {g.key: g.name for g in groups}


@bp.route("")
@roles(Role.ADMIN)
def index() -> Response:
    return redirect(url_for("web.admin.incidents"))  # type: ignore[return-value]


# -- incidents ---------------------------------------------------------------------------------------------

def _incident_page(state: str, page: int, *, failed: int | None = None, error: str | None = None,
                   comment: str = "", status: int = 200) -> Response:
    """The list; after a refused action, the refused incident carries the message and what was typed."""
    listed = svc().engine.incidents.list(actor(), state=state, page=page, per_page=PER_PAGE)
    body = render_template("admin/incidents.html", page=listed, state=state, states=INCIDENT_STATES,
                           failed=failed, error=error, comment=comment)
    return Response(body, status=status, mimetype="text/html")


def _list_args() -> tuple[str, int]:
    state = request.values.get("state", "open")
    return (state if state in INCIDENT_STATES else "open"), max(request.values.get("page", 1, type=int) or 1, 1)


@bp.route("/incidents")
@roles(Role.ADMIN)
def incidents() -> Response:
    state, page = _list_args()
    return _incident_page(state, page)


@bp.route("/incidents/<int:incident_id>/retry", methods=["POST"])
@roles(Role.ADMIN)
def retry_incident(incident_id: int) -> Response:
    state, page = _list_args()
    try:
        svc().engine.incidents.retry(incident_id, actor())
    except (Conflict, NotFound) as exc:
        return _incident_page(state, page, failed=incident_id, error=_refusal(exc),
                              comment=request.form.get("comment", ""), status=409 if isinstance(exc, Conflict) else 404)
    flash(_("Incident %(id)s: the failed job is queued again.", id=incident_id), "success")
    return redirect(url_for("web.admin.incidents", state=state, page=page))  # type: ignore[return-value]


@bp.route("/incidents/<int:incident_id>/resolve", methods=["POST"])
@roles(Role.ADMIN)
def resolve_incident(incident_id: int) -> Response:
    state, page = _list_args()
    comment = request.form.get("comment", "").strip()
    if len(comment) > COMMENT_LENGTH or "\x00" in comment:
        return _incident_page(state, page, failed=incident_id, comment=comment, status=422,
                              error=_("The comment may have at most %(n)s characters.", n=COMMENT_LENGTH))
    try:
        svc().engine.incidents.resolve(incident_id, actor(), comment or None)
    except (Conflict, NotFound) as exc:
        return _incident_page(state, page, failed=incident_id, error=_refusal(exc), comment=comment,
                              status=409 if isinstance(exc, Conflict) else 404)
    flash(_("Incident %(id)s is marked resolved.", id=incident_id), "success")
    return redirect(url_for("web.admin.incidents", state=state, page=page))  # type: ignore[return-value]


def _refusal(exc: Conflict | NotFound) -> str:
    if isinstance(exc, NotFound):
        return _("This incident does not exist (any more).")
    if "simply try again" in exc.message:
        return _("This incident came from a person's action, not from a background job: there is nothing to "
                 "retry. The person can simply try again; resolve the incident when it is dealt with.")
    if "already" in exc.message:
        return _("Someone else has already dealt with this incident. Reload the list.")
    return exc.message


# -- groups --------------------------------------------------------------------------------------------------

@bp.route("/groups")
@roles(Role.ADMIN)
def groups() -> str:
    listed = svc().identity.list_groups()
    return render_template("admin/groups.html", groups=listed, names=group_names(listed))


# -- tokens and sessions ---------------------------------------------------------------------------------

@bp.route("/tokens")
@roles(Role.ADMIN)
def tokens() -> Response:
    username = request.args.get("user", "").strip() or actor().username
    error, user, listed = None, None, []
    try:
        user = svc().identity.get_user(username)
        listed = svc().identity.list_tokens(actor(), username)
    except NotFound:
        error = _("There is no user %(name)s.", name=username)
    body = render_template("admin/tokens.html", username=username, user=user, tokens=listed, error=error,
                           now=datetime.now(UTC), current_token=principal().token_id)
    return Response(body, status=404 if error else 200, mimetype="text/html")


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@roles(Role.ADMIN)
def revoke_token(token_id: int) -> Response:
    revoked = svc().identity.revoke_token(token_id, actor())  # NotFound: base.py's error page
    flash(_("Token %(id)s of %(user)s is revoked.", id=revoked.id, user=revoked.username), "success")
    return redirect(url_for("web.admin.tokens", user=revoked.username))  # type: ignore[return-value]


from . import admin_users  # noqa: E402,F401 - the user pages join the same blueprint before it is registered

web.register_blueprint(bp)
