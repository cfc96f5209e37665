"""What every page shares: the parent blueprint, sign-in by session, CSRF on forms, roles, error pages."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from engine.errors import AuthenticationFailed, PermissionDenied
from engine.identity import Principal
from engine.views import Actor, Role

from ..extensions import Services, services
from ..problems import from_http_exception, request_id
from ..security import SESSION_CSRF, SESSION_TOKEN, csrf_token
from .i18n import LANGUAGE_NAMES, page_language

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
CSRF_FIELD = "csrf_token"

web = Blueprint("web", __name__, template_folder="templates", static_folder="static",
                static_url_path="/assets")


def public(view: F) -> F:
    """A page anyone may open (the sign-in page)."""
    view._opsflow_page_public = True  # type: ignore[attr-defined]
    return view


def roles(*needed: str) -> Callable[[F], F]:
    """Only users with one of these roles (admins always) may open the page; others get 403."""
    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not actor().has_role(*needed, Role.ADMIN):
                raise PermissionDenied(_("This page needs the role %(roles)s.", roles=" / ".join(needed)))
            return view(*args, **kwargs)
        return guarded  # type: ignore[return-value]
    return decorate


def principal() -> Principal:
    value: Principal | None = g.get("principal")
    if value is None:
        raise AuthenticationFailed("sign in")
    return value


def actor() -> Actor:
    return principal().actor


def svc() -> Services:
    return services()


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths may be redirected to after sign-in (no open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def _is_public() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return request.endpoint == "web.static" or bool(getattr(view, "_opsflow_page_public", False))


@web.before_request
def _sign_in_and_check_csrf() -> Any:
    token = session.get(SESSION_TOKEN)
    if token:
        try:
            g.principal = svc().identity.authenticate(str(token), kind="session")
        except AuthenticationFailed:
            session.pop(SESSION_TOKEN, None)
    if g.get("principal") is None and not _is_public():
        return redirect(url_for("web.auth.login", next=request.full_path.rstrip("?")))
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token", "")
        expected = str(session.get(SESSION_CSRF) or "")
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            return error_page(400, _("The form has expired or did not come from this site. "
                                     "Reload the page and try again."))
    return None


def nav_items() -> list[tuple[str, str, str]]:
    """(endpoint, label, area) for the areas this user may open."""
    who = g.get("principal")
    if who is None:
        return []
    items = [("web.inbox.inbox", _("Inbox"), "inbox"), ("web.cases.start_list", _("Start a request"), "start"),
             ("web.cases.my_cases", _("My cases"), "cases")]
    if who.actor.has_role(Role.PROCESS_OWNER, Role.ADMIN):
        items.append(("web.editor.index", _("Processes"), "editor"))
    if who.actor.has_role(Role.AUDITOR, Role.ADMIN):
        items.append(("web.audit.events", _("Audit"), "audit"))
    if who.actor.has_role(Role.ADMIN):
        items.append(("web.admin.incidents", _("Admin"), "admin"))
    return items


def this_page() -> str:
    """The address that shows this page again: itself for a GET; for a page answering a POST (a refused form,
    say), the same-site page the form was sent from, as a POST's own address may not answer a GET."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/"):
        return safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""))
    return "/"


@web.app_context_processor
def _page_context() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "current_user": g.get("principal"), "lang": page_language(),
            "language_names": LANGUAGE_NAMES, "nav_items": nav_items, "request_id": request_id,
            "this_page": this_page}


def error_page(status: int, message: str) -> Response:
    titles = {400: _("The request could not be handled"), 403: _("Not allowed"), 404: _("Not found"),
              409: _("Someone else was quicker"), 412: _("Changed in the meantime"), 413: _("Too large"),
              422: _("Cannot be done"), 429: _("Too many attempts"), 500: _("Something went wrong")}
    body = render_template("error.html", status=status, title=titles.get(status, titles[400]), message=message)
    return Response(body, status=status, mimetype="text/html")


@web.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status >= 500:
        return _internal_error(exc)
    return error_page(status, exc.description or exc.name)


def not_routed(exc: HTTPException) -> Response:
    """404 and 405 of addresses no route answers: a page outside /api, a problem inside it."""
    if request.path == "/api" or request.path.startswith("/api/"):
        return from_http_exception(exc)
    status = exc.code or 404
    message = (_("There is no page at this address.") if status == 404
               else _("This page cannot be opened this way."))
    return error_page(status, message)


@web.errorhandler(Exception)
def _internal_error(exc: BaseException) -> Response:
    log.error("unhandled error in %s %s", request.method, request.path, exc_info=exc,
              extra={"request_id": request_id()})
    return error_page(500, _("Something went wrong on our side. Quote the request id %(id)s if you report it.",
                             id=request_id()))
