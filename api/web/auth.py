"""Signing in and out of the pages, and choosing the language."""

from __future__ import annotations

from flask import Blueprint, Response, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from engine.errors import AuthenticationFailed
from engine.identity import LoginThrottled

from ..security import client_address, end_session, start_session
from .base import principal, public, safe_next, svc, web
from .i18n import SESSION_LANGUAGE

bp = Blueprint("auth", __name__)

@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Response | str:
    next_url = safe_next(request.values.get("next"), url_for("web.inbox.inbox"))
    if request.method == "GET":
        return render_template("auth/login.html", next_url=next_url, username="", error=None)
    username = request.form.get("username", "").strip()
    try:
        issued = svc().identity.login(username, request.form.get("password", ""), client_address(), kind="session")
    except LoginThrottled as exc:
        error = _("Too many failed sign-ins. Try again in %(seconds)s seconds.", seconds=exc.retry_after)
        return Response(render_template("auth/login.html", next_url=next_url, username=username, error=error),
                        status=429)
    except AuthenticationFailed:
        error = _("The user name or password is wrong.")
        return Response(render_template("auth/login.html", next_url=next_url, username=username, error=error),
                        status=401)
    language = session.get(SESSION_LANGUAGE)
    start_session(issued)
    if language:  # chosen on the sign-in page: remembered on the user from now on
        session[SESSION_LANGUAGE] = language
        identity = svc().identity
        identity.set_language(issued.username, language, identity.actor_for(issued.username))
    return redirect(next_url)  # type: ignore[return-value]

@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    who = principal()
    svc().identity.revoke_token(who.token_id, who.actor)
    end_session()
    return redirect(url_for("web.auth.login"))  # type: ignore[return-value]

@bp.route("/language", methods=["POST"])
@public
def language() -> Response:
    """Remember the choice in the session and, when signed in, on the user."""
    chosen = request.form.get("language", "")
    if chosen in ("zh", "en"):
        session[SESSION_LANGUAGE] = chosen
        if g.get("principal") is not None:
            svc().identity.set_language(g.principal.user.username, chosen, g.principal.actor)
    return redirect(safe_next(request.form.get("next"), url_for("web.inbox.inbox")))  # type: ignore[return-value]


web.register_blueprint(bp)
