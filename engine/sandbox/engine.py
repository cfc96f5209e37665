"""The script engine every workflow must use: SpiffWorkflow's API, the sandbox underneath."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from engine.errors import EngineError

from .compiler import Mode, compile_sandboxed
from .environment import SandboxEnvironment, refusal_error
from .exceptions import SandboxScriptError
from .limits import ScriptLimits


def _element_id(task: Any) -> str | None:
    spec = getattr(task, "task_spec", None)
    return getattr(spec, "bpmn_id", None) or getattr(spec, "name", None)


class SandboxedScriptEngine(PythonScriptEngine):
    """PythonScriptEngine whose every evaluation runs restricted and within `limits`.

    SpiffWorkflow looks the engine up as `task.workflow.script_engine`, which for a
    subprocess is the top workflow's; the engine is not serialized, so the host must
    set `workflow.script_engine` after every restore (see `assert_sandboxed`).
    """

    def __init__(self, limits: ScriptLimits | None = None,
                 helpers: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self.limits = limits or ScriptLimits()
        self.environment: SandboxEnvironment = SandboxEnvironment(self.limits, helpers)
        super().__init__(environment=self.environment)

    def validate(self, expression: str) -> None:
        """Raise SyntaxError if `expression` does not parse under the sandbox's compiler.

        SpiffWorkflow's DMN engine calls this (without a task) to tell a full expression
        ("5") from a comparison fragment ("< 5"), so a parse failure must stay a
        SyntaxError. Forbidden constructs are reported by `evaluate`, which knows the
        element id; use `check()` to refuse them up front (at deploy time).
        """
        compiled = compile_sandboxed(expression, "eval")
        if compiled.syntax_error is not None:
            raise compiled.syntax_error

    def check(self, source: str, mode: Mode = "eval", *, element_id: str | None = None) -> None:
        """Raise ScriptError (kind "error" or "forbidden") if `source` would be refused."""
        refused = refusal_error(compile_sandboxed(source, mode), element_id)
        if refused is not None:
            raise refused

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        """Value of `expression` over the task's data; raises ScriptError with the element id."""
        return self.environment.evaluate(expression, task.data, external_context, element_id=_element_id(task))

    def execute(self, task: Any, script: str, external_context: Any = None) -> bool:
        """Run `script` on the task's data; raises ScriptError with the element id and line."""
        return self.environment.execute(script, task.data, external_context, element_id=_element_id(task))

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        """Service tasks are not run by diagrams' code; always raises ScriptError(kind="forbidden")."""
        raise SandboxScriptError(
            "service calls are not available to diagrams", element_id=_element_id(task), kind="forbidden"
        )


def assert_sandboxed(workflow: Any) -> None:
    """Raise EngineError unless `workflow` (and so its subprocesses) uses a SandboxedScriptEngine."""
    top = getattr(workflow, "top_workflow", workflow)
    for candidate in (workflow, top):
        engine = getattr(candidate, "script_engine", None)
        if not isinstance(engine, SandboxedScriptEngine):
            raise EngineError(
                f"workflow script engine is {type(engine).__name__}, not the sandbox; "
                "set workflow.script_engine = SandboxedScriptEngine() after every restore"
            )
