"""Who is calling: bearer tokens for clients, the session cookie (with CSRF) for the web pages."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from engine.errors import AuthenticationFailed, OpsflowError, PermissionDenied
from engine.forms import language_of
from engine.identity import IssuedToken, Principal
from engine.views import Actor

from .extensions import services
from .problems import CsrfFailed

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_HEADER = "X-CSRF-Token"
SESSION_TOKEN = "sid"  # noqa: S105 - the session key's name
SESSION_CSRF = "csrf"


def public(view: F) -> F:
    """Mark a view as callable without credentials (sign-in endpoints)."""
    view._opsflow_public = True  # type: ignore[attr-defined]
    return view


def current_principal() -> Principal:
    principal: Principal | None = g.get("principal")
    if principal is None:
        raise AuthenticationFailed("sign in or send a bearer token")
    return principal


def current_actor() -> Actor:
    return current_principal().actor


def current_language() -> str:
    principal: Principal | None = g.get("principal")
    default = (principal.user.language if principal else None) or services().settings.default_language
    return language_of(request.headers.get("Accept-Language"), default=default)


def client_address() -> str:
    return request.remote_addr or "unknown"


def csrf_token() -> str:
    """The session's CSRF token, created on first use."""
    token = session.get(SESSION_CSRF)
    if not token:
        token = session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return str(token)


def start_session(issued: IssuedToken) -> str:
    """Bind a session credential to the cookie; a fresh CSRF token; returns the CSRF token."""
    session.clear()
    session.permanent = True
    session[SESSION_TOKEN] = issued.token
    return csrf_token()


def end_session() -> None:
    session.clear()


def _is_public() -> bool:
    if request.url_rule is None:
        return True  # unknown routes answer 404
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "_opsflow_public", False))


# The interactive API page (flask-smorest's Swagger UI): a page, so a visitor without a session is sent to sign
# in rather than shown a 401 document. The OpenAPI document itself needs credentials like every other call.
_DOCS_PAGE = "api-docs.openapi_swagger_ui"


def login_redirect() -> ResponseReturnValue:
    """Send a visitor of a page to sign in, and back to the page afterwards."""
    return redirect(url_for("web.auth.login", next=request.full_path.rstrip("?")))


def _authenticate() -> ResponseReturnValue | None:
    if not request.path.startswith("/api") or _is_public():
        return None
    try:
        _check_credentials()
    except AuthenticationFailed:
        if request.endpoint == _DOCS_PAGE and "Authorization" not in request.headers:
            return login_redirect()  # a page: no session, or one that ended, signs in again
        raise
    return None


def _check_credentials() -> None:
    identity = services().identity
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("use 'Authorization: Bearer <token>'")
        g.principal = identity.authenticate(token.strip(), kind="bearer")
        return
    cookie_token = session.get(SESSION_TOKEN)
    if not cookie_token:
        raise AuthenticationFailed("sign in or send a bearer token")
    try:
        g.principal = identity.authenticate(str(cookie_token), kind="session")
    except AuthenticationFailed:
        session.clear()
        raise
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        expected = str(session.get(SESSION_CSRF) or "")
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise CsrfFailed(f"a cookie-authenticated write needs the {CSRF_HEADER} header (GET /api/auth/csrf)")


def _reject_nul() -> None:
    if "\x00" in request.path or any("\x00" in v for v in request.args.values()):
        raise OpsflowError("the request contains NUL characters")


def require_role(actor: Actor, *roles: str, action: str) -> None:
    if not actor.has_role(*roles):
        raise PermissionDenied(f"{action} needs the {' or '.join(roles)} role")


# On every response: no content sniffing (an upload served as data stays data), no framing by other sites
# (clickjacking), and no addresses leaked to other sites.
_HARDENING = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "SAMEORIGIN",
              "Referrer-Policy": "same-origin"}
# A document people uploaded (a diagram's XML): were a browser to open it as a page, it must run nothing and
# reach nothing, whatever it contains (an XHTML <script> in an extension element, say).
UNTRUSTED_DOCUMENT = {"Content-Security-Policy": "sandbox; default-src 'none'"}


def _harden(response: Response) -> Response:
    for name, value in _HARDENING.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_harden)
    app.before_request(_reject_nul)
    app.before_request(_authenticate)
