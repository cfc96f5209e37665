"""The engine's refusals in the page's language.

The engine says why it refused in English (`message`, for logs and the API's `detail`) and, for the
refusals a person meets in the pages, with a stable `reason` and the `params` of its message; this is
the catalog that says them in Chinese or English. A refusal without a reason here shows its message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, redirect, request, url_for
from flask_babel import gettext as _

from engine.errors import AuthenticationFailed, OpsflowError

from ..problems import status_of
from .base import error_page, web
from .filters import bilingual, state_label


def _task_not_open(p: dict[str, Any]) -> str:
    if p.get("by"):
        return _("“%(name)s” is no longer open: %(by)s has already %(state)s it.", name=p["name"], by=p["by"],
                 state=state_label(p["state"]))
    return _("“%(name)s” is no longer open: it was %(state)s.", name=p["name"], state=state_label(p["state"]))


_MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "task_not_open": _task_not_open,
    "task_claimed_by_other": lambda p: _("“%(name)s” has already been taken by %(assignee)s.", **p),
    "task_assigned_to_other": lambda p: _("“%(name)s” is assigned to %(assignee)s, not to you.", **p),
    "task_not_offered": lambda p: _("“%(name)s” is not offered to you or your groups.", **p),
    "task_not_claimed": lambda p: _("“%(name)s” is not taken by anyone (it is %(state)s).", name=p["name"],
                                    state=state_label(p["state"])),
    "sod_started_case": lambda p: _(
        "Separation of duties: you started this case, so someone else must do “%(name)s”.", **p),
    "sod_completed_earlier": lambda p: _(
        "Separation of duties: you did “%(earlier)s” in this case, so someone else must do “%(name)s”.", **p),
    "case_suspended": lambda p: _("The case is suspended: its tasks can be done once an administrator resumes it."),
    "case_not_active": lambda p: _("The case is %(state)s: this can no longer be done.",
                                   state=state_label(p["state"])),
    "case_not_suspended": lambda p: _("The case is %(state)s, not suspended.", state=state_label(p["state"])),
    "case_not_visible": lambda p: _("You may only see cases you started or took part in."),
    "case_not_found": lambda p: _("This case does not exist."),
    "task_not_found": lambda p: _("This task does not exist (any more)."),
    "process_not_found": lambda p: _("There is no process “%(process_key)s”.", **p),
    "start_not_allowed": lambda p: _("Only %(starters)s may start this process.", **p),
    "cancel_not_allowed": lambda p: _("Only the person who started a case, or an administrator, may cancel it."),
    "admin_only": lambda p: _("This needs the administrator role."),
}
_NAMES = ("name", "earlier")  # params that are '中文 / English' names of diagram elements


def refusal(exc: OpsflowError) -> str:
    """What the page says of `exc`, in the page's language."""
    say = _MESSAGES.get(exc.reason or "")
    if say is None:
        return exc.message
    params = {k: bilingual(v) if k in _NAMES else v for k, v in exc.params.items()}
    return say(params)


@web.errorhandler(OpsflowError)
def _engine_error(exc: OpsflowError) -> Response:
    if isinstance(exc, AuthenticationFailed):
        return redirect(url_for("web.auth.login", next=request.full_path.rstrip("?")))  # type: ignore[return-value]
    return error_page(status_of(exc), refusal(exc))
