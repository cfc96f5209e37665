"""RFC 9457 problem responses: one table from engine errors to HTTP, request ids, and the catch-all."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, json, request
from werkzeug.exceptions import HTTPException

from engine.errors import (
    AuthenticationFailed,
    Conflict,
    EngineError,
    InvalidModel,
    NotFound,
    OpsflowError,
    PermissionDenied,
    PreconditionFailed,
    ScriptError,
    TooLarge,
    ValidationFailed,
)
from engine.identity import LoginThrottled

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:opsflow:problem:"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class CsrfFailed(PermissionDenied):
    """A cookie-authenticated write without the session's CSRF token."""


@dataclass(frozen=True)
class ProblemKind:
    status: int
    slug: str
    title: str


# The one table. Lookup walks the exception's MRO, so subclasses come before their bases only by inheritance.
ERROR_TABLE: dict[type[OpsflowError], ProblemKind] = {
    LoginThrottled: ProblemKind(429, "too-many-attempts", "Too many failed sign-ins"),
    AuthenticationFailed: ProblemKind(401, "unauthenticated", "Authentication required"),
    CsrfFailed: ProblemKind(403, "csrf-failed", "CSRF token missing or wrong"),
    PermissionDenied: ProblemKind(403, "forbidden", "Not allowed"),
    NotFound: ProblemKind(404, "not-found", "Not found"),
    Conflict: ProblemKind(409, "conflict", "Conflict"),
    PreconditionFailed: ProblemKind(412, "precondition-failed", "Precondition failed"),
    TooLarge: ProblemKind(413, "too-large", "Too large"),
    ValidationFailed: ProblemKind(422, "validation-failed", "The submitted data is not valid"),
    InvalidModel: ProblemKind(422, "invalid-model", "The diagram cannot be deployed"),
    ScriptError: ProblemKind(422, "script-error", "A script or expression in the diagram failed"),
    EngineError: ProblemKind(422, "engine-error", "The case could not advance"),
    OpsflowError: ProblemKind(400, "bad-request", "Bad request"),
}
HTTP_SLUGS = {
    400: "malformed-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found",
    405: "method-not-allowed", 406: "not-acceptable", 409: "conflict", 412: "precondition-failed",
    413: "too-large", 415: "unsupported-media-type", 422: "validation-failed", 429: "too-many-attempts",
}


def request_id() -> str:
    return str(getattr(g, "request_id", "") or "-")


def problem(status: int, slug: str, title: str, detail: str, headers: dict[str, str] | None = None,
            **members: Any) -> Response:
    body = {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail,
            "instance": request.path, "request_id": request_id(), **members}
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401 and "WWW-Authenticate" not in response.headers:
        error = ', error="invalid_token"' if request.headers.get("Authorization") else ""
        response.headers["WWW-Authenticate"] = f'Bearer realm="opsflow"{error}'
    return response


def kind_of(exc: OpsflowError) -> ProblemKind:
    """The table's row for an engine error: the nearest class in its MRO."""
    return next(ERROR_TABLE[c] for c in type(exc).__mro__ if c in ERROR_TABLE)


def status_of(exc: OpsflowError) -> int:
    return kind_of(exc).status


def from_engine_error(exc: OpsflowError) -> Response:
    kind = kind_of(exc)
    members: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, ValidationFailed):
        members["errors"] = exc.errors
    elif isinstance(exc, InvalidModel):
        members["problems"] = [p.as_dict() for p in exc.problems]
        members["errors"] = members["problems"]
        element_ids = [p.element_id for p in exc.problems if p.element_id]
        if element_ids:
            members["element_id"] = element_ids[0]
    elif isinstance(exc, ScriptError | EngineError):
        members.update({k: v for k, v in exc.details.items() if k in ("element_id", "line", "kind")})
    elif isinstance(exc, LoginThrottled):
        headers["Retry-After"] = str(exc.retry_after)
        members["retry_after"] = exc.retry_after
    if exc.reason:  # a refusal a client can say in its reader's language
        members["reason"] = exc.reason
        if exc.params:
            members["params"] = exc.params
    if kind.status >= 500:
        log.error("engine error %s", exc, extra={"request_id": request_id()})
    return problem(kind.status, kind.slug, kind.title, exc.message, headers, **members)


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs' {location: {field: [..] | {nested..}}} as {field: [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for field, msgs in _flatten(value, name).items():
                out.setdefault(field, []).extend(msgs)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_request"] = list(messages)
    elif isinstance(messages, list):
        for i, value in enumerate(messages):
            for field, msgs in _flatten(value, f"{prefix}.{i}").items():
                out.setdefault(field, []).extend(msgs)
    else:
        out[prefix or "_request"] = [str(messages)]
    return out


def from_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status >= 500:
        return internal_error(exc)
    data = getattr(exc, "data", None) or {}
    members: dict[str, Any] = {}
    detail = exc.description or exc.name
    messages = data.get("messages") or data.get("errors")
    if messages:
        members["errors"] = _flatten({k: v for k, v in messages.items()} if isinstance(messages, dict) else messages)
        if isinstance(messages, dict) and len(messages) == 1:  # drop the location level ("json", "query")
            members["errors"] = _flatten(next(iter(messages.values())))
        detail = data.get("message") or ("the request is malformed" if status == 400 else "the request has errors")
    headers = dict(data.get("headers") or {})
    if status == 405 and exc.get_response().headers.get("Allow"):
        headers["Allow"] = exc.get_response().headers["Allow"]
    slug = HTTP_SLUGS.get(status, "http-error")
    return problem(status, slug, exc.name, detail, headers, **members)


def internal_error(exc: BaseException) -> Response:
    log.error("unhandled error in %s %s", request.method, request.path, exc_info=exc,
              extra={"request_id": request_id()})
    return problem(500, "internal-error", "Internal Server Error",
                   "Something went wrong on our side. Quote the request id if you report it.")


def _assign_request_id() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _echo_request_id(response: Response) -> Response:
    response.headers["X-Request-ID"] = request_id()
    return response


def init_app(app: Flask) -> None:
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)
    app.register_error_handler(OpsflowError, from_engine_error)
    app.register_error_handler(HTTPException, from_http_exception)
    app.register_error_handler(Exception, internal_error)
