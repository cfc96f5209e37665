"""Running compiled diagram code against task data, within a budget.

Mirrors SpiffWorkflow's TaskDataEnvironment: `evaluate` sees task data (and the
external context) as names; `execute` writes assignments back into the task data and
leaves no helpers, functions or external names behind. SpiffWorkflow calls
`script_engine.environment.evaluate(...)` directly for message correlations and
process-level conditions, so this class is itself safe to call.
"""

from __future__ import annotations

import copy
import decimal
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from .compiler import SCRIPT_FILENAME, Compiled, Mode, compile_sandboxed
from .exceptions import SandboxScriptError
from .helpers import SAFE_BUILTINS
from .limits import Budget, SandboxAbort, ScriptLimits, enter_budget, leave_budget
from .policy import FORBIDDEN_NAMES
from .safe_types import decimal_context

_RESERVED = frozenset({"__builtins__", "_tick_"})
# localcontext() copies its argument, so one template serves every evaluation.
_DECIMAL_CONTEXT = decimal_context()


_CONTAINERS = (dict, list, set)


def _visible(data: Mapping[str, Any]) -> dict[str, Any]:
    """The names code sees: its own copy of every container value.

    SpiffWorkflow hands a task's data on to the next tasks one level deep, so a nested dict or list is the
    same object in several tasks, some of them already stored. Code changing it in place (`order["lines"]
    .append(...)`) would change them all in memory but not in their stored rows: a case would then behave
    differently once restored. With a copy, a script's change lands in its own task's data only.

    Names starting with "_" can't be written in a script; keeping them out also stops task data from
    shadowing the guards ("_getattr_") or "__builtins__"."""
    return {k: copy.deepcopy(v) if isinstance(v, _CONTAINERS) else v
            for k, v in data.items() if isinstance(k, str) and not k.startswith("_")}


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates expressions and executes scripts under the sandbox policy and limits."""

    def __init__(self, limits: ScriptLimits | None = None,
                 helpers: Mapping[str, Callable[..., Any]] | None = None) -> None:
        """`helpers`: functions the host adds to what code can name (the engine's `unit_heads`)."""
        super().__init__({})
        self.limits = limits or ScriptLimits()
        for name in helpers or {}:
            if name.startswith("_") or name in FORBIDDEN_NAMES or name in SAFE_BUILTINS:
                raise ValueError(f"{name!r} cannot be a diagram helper: it is private, forbidden or taken")
        self.builtins = {**SAFE_BUILTINS, **helpers} if helpers else SAFE_BUILTINS

    def evaluate(
        self,
        expression: str,
        context: Mapping[str, Any],
        external_context: Mapping[str, Any] | None = None,
        *,
        element_id: str | None = None,
    ) -> Any:
        """Value of `expression`; raises ScriptError (also for forbidden constructs and limits)."""
        names = _visible(external_context or {})
        names.update(_visible(context))
        return self._run(expression, "eval", names, element_id)

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
        *,
        element_id: str | None = None,
    ) -> bool:
        """Run `script`; its assignments (but no callables) land in `context`. Raises ScriptError."""
        external = _visible(external_context or {})
        names = _visible(context)
        names.update(external)
        before = set(names)
        self._run(script, "exec", names, element_id)
        for key in before - set(names):  # `del x` in the script
            context.pop(key, None)
        for key, value in names.items():
            if key in _RESERVED or key in external or callable(value):
                continue
            context[key] = value
        for key in [k for k, v in context.items() if callable(v)]:
            del context[key]  # as TaskDataEnvironment does: functions never stay in task data
        return True

    def call_service(self, context: Mapping[str, Any], **kwargs: Any) -> Any:
        raise SandboxScriptError("service calls are not available to diagrams", kind="forbidden")

    def _run(self, source: str, mode: Mode, names: dict[str, Any], element_id: str | None) -> Any:
        compiled = compile_sandboxed(source, mode)
        refused = refusal_error(compiled, element_id)
        if refused is not None:
            raise refused
        code = compiled.code
        assert code is not None  # compiled without syntax error or refusal
        budget = Budget(self.limits)
        names["__builtins__"] = self.builtins
        names["_tick_"] = budget.tick
        previous = enter_budget(budget)
        try:
            with decimal.localcontext(_DECIMAL_CONTEXT):
                if mode == "eval":
                    return eval(code, names)  # noqa: S307 - restricted code, guarded globals
                exec(code, names)  # noqa: S102 - restricted code, guarded globals
                return None
        except SandboxAbort as abort:
            raise _translate(abort, element_id, abort.kind, abort.message) from None
        except RecursionError as exc:
            raise _translate(exc, element_id, "memory", "recursion too deep") from None
        except NameError as exc:
            if exc.name in FORBIDDEN_NAMES:
                raise _translate(exc, element_id, "forbidden", f'name "{exc.name}" is not allowed') from None
            raise _translate(exc, element_id, "error", f"NameError: {exc}") from exc
        except MemoryError as exc:
            raise _translate(exc, element_id, "memory", "out of memory") from None
        except Exception as exc:
            raise _translate(exc, element_id, "error", f"{type(exc).__name__}: {exc}") from exc
        finally:
            leave_budget(previous)
            names.pop("__builtins__", None)
            names.pop("_tick_", None)


def refusal_error(compiled: Compiled, element_id: str | None) -> SandboxScriptError | None:
    """The ScriptError for code that did not compile (syntax) or was refused (policy)."""
    if compiled.syntax_error is not None:
        exc = compiled.syntax_error
        return SandboxScriptError(f"syntax error: {exc.msg}", element_id=element_id, line=exc.lineno)
    if compiled.refusal is not None:
        refusal = compiled.refusal
        return SandboxScriptError(refusal.message, element_id=element_id, line=refusal.line, kind="forbidden")
    return None


def _translate(exc: BaseException, element_id: str | None, kind: str, message: str) -> SandboxScriptError:
    line = _script_line(exc)
    return SandboxScriptError(message, element_id=element_id, line=line, kind=kind)


def _script_line(exc: BaseException) -> int | None:
    """Line of the innermost frame of diagram code in the traceback."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == SCRIPT_FILENAME:
            line = frame.lineno
    return line
