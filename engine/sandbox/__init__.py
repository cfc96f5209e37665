"""The restricted environment every script and expression of a diagram runs in.

Conditions, timer expressions, DMN cells, multi-instance expressions, message
correlations and script tasks all go through `SandboxedScriptEngine`, which compiles
code with RestrictedPython under `policy.SandboxPolicy`, guards attribute/item access,
iteration and writes at run time, and stops runaway code (`limits.ScriptLimits`).

What a diagram's code can use
-----------------------------
Helpers:
    datetime, date, time, timedelta, timezone   the datetime classes
    Decimal                                     decimal.Decimal (exponent within ±10000)
    now()                                       the current time, aware, UTC
    today()                                     today's date in UTC
    parse_datetime(s)                           ISO-8601 date-time ("Z" accepted)
    parse_date(s)                               ISO-8601 date
    iso_duration(days=0, hours=0, minutes=0, seconds=0)
                                                ISO-8601 duration, e.g. 'P1DT4H', 'PT30M',
                                                for timer expressions
    json_dumps(obj, indent=None, sort_keys=False), json_loads(s)
    unit_heads(username)                        the engine's org lookup (engine.identity.org): the
                                                managers of the person's unit, else of the nearest unit
                                                above with one, never the person; e.g.
                                                camunda:candidateUsers="${unit_heads(requester)}"
    group_heads(group, username)                the same for a named unit: its managers other than the
                                                person, else the nearest ones above; e.g.
                                                camunda:candidateUsers="${group_heads('ops_service', requester)}"
Builtins:
    len min max sum sorted reversed int float str bool dict list tuple set frozenset
    round abs any all range enumerate zip map filter isinstance divmod pow repr chr ord,
    True False None, and the exceptions Exception ArithmeticError AssertionError
    AttributeError IndexError KeyError LookupError NameError NotImplementedError
    OverflowError RuntimeError TypeError ValueError ZeroDivisionError.
    Sizes are limited (range, repetition, padding, joins, big integers, ...).
Not available: imports, open, getattr/setattr/delattr, type, eval/exec/compile, vars,
    dir, globals/locals, print, class definitions, yield, bare `except:`, any name or
    attribute starting with "_", frame/generator/code attributes, `str.format` fields
    that reach private attributes.

Errors: everything raises `engine.errors.ScriptError` (as `SandboxScriptError`, which
SpiffWorkflow passes through unwrapped) with `element_id`, `line` and `kind`:
"forbidden", "timeout", "memory" or "error".
"""

from .engine import SandboxedScriptEngine, assert_sandboxed
from .exceptions import SandboxScriptError, script_error_from
from .limits import ScriptLimits

__all__ = [
    "SandboxScriptError",
    "SandboxedScriptEngine",
    "ScriptLimits",
    "assert_sandboxed",
    "script_error_from",
]
