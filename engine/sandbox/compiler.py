"""Compiling diagram code with the sandbox policy, cached by (source, mode)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache
from types import CodeType
from typing import Literal

from RestrictedPython import compile_restricted_eval, compile_restricted_exec

from .policy import SandboxPolicy

#: Filename given to compiled diagram code; tracebacks are searched for it to find the line.
SCRIPT_FILENAME = "<diagram script>"

Mode = Literal["eval", "exec"]

_LINE_PREFIX = re.compile(r"^Line (\d+|None): (.*)$", re.DOTALL)
# Camunda-style "${ expr }" wrappers are accepted around expressions (see DESIGN.md).
_EL_WRAPPER = re.compile(r"^\s*\$\{(.*)\}\s*$", re.DOTALL)


@dataclass(frozen=True)
class Refusal:
    """Why the policy refused a piece of code, and where."""

    message: str
    line: int | None


@dataclass(frozen=True)
class Compiled:
    """Result of compiling: a code object, or a SyntaxError / policy refusal."""

    code: CodeType | None
    syntax_error: SyntaxError | None = None
    refusal: Refusal | None = None


def strip_el_wrapper(expression: str) -> str:
    match = _EL_WRAPPER.match(expression)
    return match.group(1) if match else expression


@lru_cache(maxsize=4096)
def compile_sandboxed(source: str, mode: Mode) -> Compiled:
    """Compile `source` under the sandbox policy; the outcome (errors too) is cached."""
    if mode == "eval":
        source = strip_el_wrapper(source).strip()
    try:
        tree = ast.parse(source, SCRIPT_FILENAME, mode)
    except SyntaxError as exc:
        # Spiff's DMN engine relies on a real SyntaxError to tell "< 5" from "5".
        return Compiled(code=None, syntax_error=exc)
    compile_fn = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compile_fn(tree, filename=SCRIPT_FILENAME, policy=SandboxPolicy)
    if result.errors:
        return Compiled(code=None, refusal=_first_refusal(result.errors))
    return Compiled(code=result.code)


def _first_refusal(errors: tuple[str, ...] | list[str]) -> Refusal:
    match = _LINE_PREFIX.match(errors[0])
    if match is None:
        return Refusal(errors[0], None)
    line = int(match.group(1)) if match.group(1).isdigit() else None
    return Refusal(match.group(2).rstrip("."), line)
