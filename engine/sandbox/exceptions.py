"""The exception the sandbox raises, and how to find it again once SpiffWorkflow wrapped it."""

from __future__ import annotations

from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.errors import ScriptError


class SandboxScriptError(ScriptError, SpiffWorkflowException):
    """A ScriptError that SpiffWorkflow treats as its own.

    SpiffWorkflow's DMN engine and business-rule task wrap any *foreign* exception into
    a WorkflowTaskException that keeps only the text; its own exceptions pass through
    with a note added. Deriving from SpiffWorkflowException keeps the ScriptError (with
    element id, line and kind) intact on every path.
    """


def script_error_from(exc: BaseException | None) -> ScriptError | None:
    """The ScriptError in `exc` or its cause/context chain (or a wrapped `.exception`), if any."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ScriptError):
            return exc
        seen.add(id(exc))
        wrapped = getattr(exc, "exception", None)
        if isinstance(wrapped, ScriptError):
            return wrapped
        exc = exc.__cause__ or exc.__context__
    return None
