"""Deploy-time check of a diagram's code: every script and every gateway condition must compile in the sandbox.

Without it a broken script or condition deploys and fails only when a person reaches it, as an incident
in the middle of a case. Each piece of code is compiled exactly as the sandbox compiles it at run time
(scripts as statements, conditions as expressions, `${…}` unwrapped), so what passes here cannot fail to
compile later, and what is refused here would have been refused then.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from SpiffWorkflow.specs.MultiChoice import MultiChoice

from engine.errors import ModelProblem
from engine.sandbox.compiler import Mode, compile_sandboxed
from engine.sandbox.environment import refusal_error


def _code_of(spec: Any) -> Iterator[tuple[str | None, str, Mode]]:
    """(flow target of a condition, or None for a script; source; mode) of each piece of code a task spec runs."""
    if isinstance(spec, ScriptTask) and spec.script:
        yield None, spec.script, "exec"
    if isinstance(spec, MultiChoice):  # exclusive and inclusive gateways
        for condition, target in spec.cond_task_specs:
            expression = condition.args[0] if condition is not None and condition.args else None
            if isinstance(expression, str) and expression.strip():
                yield target, expression, "eval"


# Operators of Camunda's expression language (JUEL) that Python spells as words; outside string literals.
_JUEL = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|(&&|\|\||!(?!=))""")


def _looks_like_juel(source: str) -> bool:
    return any(match.group(1) for match in _JUEL.finditer(source))


def code_problems(spec: Any, subprocess_specs: dict[str, Any]) -> list[ModelProblem]:
    """A problem, at its element, for each script or condition the sandbox would not compile."""
    problems = []
    for process in (spec, *subprocess_specs.values()):
        for task_spec in process.task_specs.values():
            element_id = getattr(task_spec, "bpmn_id", None) or task_spec.name
            for target, source, mode in _code_of(task_spec):
                refused = refusal_error(compile_sandboxed(source, mode), element_id)
                if refused is None:
                    continue
                what = "script" if target is None else f"condition of the flow to {target}"
                line = refused.line if refused.line and mode == "exec" else None
                where = f" (line {line})" if line else ""
                juel = _looks_like_juel(source)
                hint = " (expressions are Python: write not, and, or instead of !, &&, ||)" if juel else ""
                problems.append(ModelProblem(
                    f"the {what}{where} cannot run: {refused.message}{hint}", element_id=element_id,
                    reason="condition_cannot_run" if target is not None else
                    "script_cannot_run_line" if line else "script_cannot_run",
                    params={"target": target, "line": line, "detail": refused.message, "juel": juel}))
    return problems
