"""Sign-in (session cookie or bearer token), sign-out, tokens, CSRF, and the caller."""

from __future__ import annotations

from typing import Any

from flask import Response

from ..extensions import services
from ..parsing import Blueprint
from ..schemas.auth import (
    CredentialsSchema,
    CsrfSchema,
    IssuedTokenSchema,
    LoginResultSchema,
    MeSchema,
    TokenListArgs,
    TokenSchema,
)
from ..security import (
    client_address,
    csrf_token,
    current_actor,
    current_language,
    current_principal,
    end_session,
    public,
    start_session,
)

blp = Blueprint("auth", __name__, url_prefix="/api", description="Signing in and tokens")
NO_AUTH: list[dict[str, list[str]]] = []


@blp.route("/auth/login", methods=["POST"])
@blp.doc(security=NO_AUTH)
@blp.arguments(CredentialsSchema)
@blp.response(200, LoginResultSchema)
@blp.alt_response(401, response="UNAUTHORIZED")
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
@public
def login(credentials: dict[str, Any]) -> dict[str, Any]:
    """Sign in for the web pages: sets the session cookie and returns the CSRF token for writes."""
    issued = services().identity.login(credentials["username"], credentials["password"], client_address(),
                                       kind="session")
    return {"username": issued.username, "csrf_token": start_session(issued), "expires_at": issued.expires_at}


@blp.route("/auth/tokens", methods=["POST"])
@blp.doc(security=NO_AUTH)
@blp.arguments(CredentialsSchema)
@blp.response(201, IssuedTokenSchema)
@blp.alt_response(401, response="UNAUTHORIZED")
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
@public
def create_token(credentials: dict[str, Any]) -> Any:
    """A bearer token for API clients; shown once, stored only as a hash."""
    return services().identity.login(credentials["username"], credentials["password"], client_address())


@blp.route("/auth/tokens", methods=["GET"])
@blp.arguments(TokenListArgs, location="query")
@blp.response(200, TokenSchema(many=True))
def list_tokens(args: dict[str, Any]) -> Any:
    """Your tokens and sessions (admins: anyone's), newest first."""
    return services().identity.list_tokens(current_actor(), args.get("username"))


@blp.route("/auth/tokens/current", methods=["DELETE"])
@blp.response(204)
def revoke_current() -> Response:
    """Revoke the credential of this request (bearer token or session)."""
    return _sign_out()


@blp.route("/auth/logout", methods=["POST"])
@blp.response(204)
def logout() -> Response:
    """Sign out: revokes the session (or bearer token) and clears the cookie."""
    return _sign_out()


def _sign_out() -> Response:
    principal = current_principal()
    services().identity.revoke_token(principal.token_id, principal.actor)
    end_session()
    return Response(status=204)


@blp.route("/auth/tokens/<int:token_id>", methods=["DELETE"])
@blp.response(200, TokenSchema)
def revoke_token(token_id: int) -> Any:
    """Revoke one token: its owner, or an admin for anyone's."""
    return services().identity.revoke_token(token_id, current_actor())


@blp.route("/auth/csrf", methods=["GET"])
@blp.response(200, CsrfSchema)
def get_csrf() -> dict[str, str]:
    """The CSRF token cookie-authenticated writes must send as X-CSRF-Token."""
    return {"csrf_token": csrf_token()}


@blp.route("/me", methods=["GET"])
@blp.response(200, MeSchema)
def me() -> dict[str, Any]:
    """Who you are: groups, roles and the language the API answers you in."""
    principal = current_principal()
    user = principal.user
    return {"username": user.username, "display_name": user.display_name, "groups": user.groups,
            "roles": user.roles, "language": current_language(), "auth": principal.kind}
