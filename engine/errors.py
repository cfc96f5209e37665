"""The engine's error hierarchy.

Each error carries what a person needs to act on it (element id, line, field).
The HTTP layer maps these classes to RFC 9457 problem responses in one table;
nothing here knows about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class OpsflowError(Exception):
    """Base class of every error the engine raises on purpose.

    `message` is English, for logs, incidents and API clients. A refusal a person meets in the pages also
    carries a `reason`, a stable code, and the `params` its message is made of, so the pages and API
    clients can say it in the reader's language (the catalog of reasons is in api/web/refusals.py)."""

    def __init__(self, message: str, *, reason: str | None = None, params: dict[str, Any] | None = None,
                 **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.params: dict[str, Any] = dict(params or {})
        self.details: dict[str, Any] = {k: v for k, v in details.items() if v is not None}

    def __str__(self) -> str:
        return self.message


class NotFound(OpsflowError):
    """A definition, case, task or other object does not exist (or is not visible)."""


class Conflict(OpsflowError):
    """The object changed under the caller: task no longer open, stale version, concurrent write."""


class PreconditionFailed(OpsflowError):
    """An If-Match / expected-version precondition did not hold."""


class PermissionDenied(OpsflowError):
    """The caller may not do this (role, assignment or separation-of-duties rule)."""


class AuthenticationFailed(OpsflowError):
    """Credentials are missing, wrong, expired or revoked."""


class TooLarge(OpsflowError):
    """An upload or payload exceeds a configured size limit."""


@dataclass
class ModelProblem:
    """One problem found in a BPMN/DMN model, placed at the element it concerns.

    `message` is English; the problems of opsflow's own rules also carry a `reason` and `params`, as
    refusals do, so the editor can say them in the reader's language (SpiffWorkflow's findings get theirs from
    engine/runtime/findings.py; one it does not know has no reason and is shown as the library words it)."""

    message: str
    element_id: str | None = None
    file_name: str | None = None
    line: int | None = None
    reason: str | None = None
    params: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class InvalidModel(OpsflowError):
    """A BPMN/DMN bundle cannot be deployed; `problems` says where and why."""

    def __init__(self, message: str, problems: list[ModelProblem] | None = None) -> None:
        super().__init__(message)
        self.problems: list[ModelProblem] = problems or []


@dataclass
class FieldErrors:
    """Per-field validation messages, as the API's 422 `errors` member wants them."""

    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)


class ValidationFailed(OpsflowError):
    """Submitted data does not satisfy a form or a request schema."""

    def __init__(self, message: str, errors: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.errors = errors


class ScriptError(OpsflowError):
    """A script or expression in a diagram failed, was forbidden, or ran past its limits."""

    def __init__(
        self,
        message: str,
        *,
        element_id: str | None = None,
        line: int | None = None,
        kind: str = "error",
    ) -> None:
        super().__init__(message, element_id=element_id, line=line, kind=kind)
        self.element_id = element_id
        self.line = line
        self.kind = kind  # "error", "forbidden", "timeout", "memory"


class EngineError(OpsflowError):
    """The workflow engine could not advance a case (loop limit, corrupt or untrusted state)."""

    def __init__(self, message: str, *, element_id: str | None = None) -> None:
        super().__init__(message, element_id=element_id)
        self.element_id = element_id
