"""What a diagram's code can name: helper functions, classes and the builtins allowlist.

Only plain functions and classes are exposed, never a module: a module object leads
to `os` in two attribute steps.
"""

from __future__ import annotations

import builtins
import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from . import guards
from .limits import current_budget
from .safe_types import (
    SafeDecimal,
    SafeDict,
    SafeFrozenset,
    SafeList,
    SafeSet,
    SafeStr,
    SafeTuple,
    safe_repr,
    safe_sorted,
)

_MAX_ROUND_DIGITS = 10_000
_MAX_JSON_INDENT = 16


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date in UTC."""
    return datetime.now(UTC).date()


def parse_datetime(value: str) -> datetime:
    """An ISO-8601 date-time (a trailing "Z" means UTC)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def parse_date(value: str) -> date:
    """An ISO-8601 date (YYYY-MM-DD)."""
    return date.fromisoformat(value.strip())


def iso_duration(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> str:
    """An ISO-8601 duration such as 'P1DT4H' or 'PT30M', as timer expressions want."""
    parts = {"D": days, "H": hours, "M": minutes, "S": seconds}
    if any(v < 0 for v in parts.values()):
        raise ValueError("iso_duration() takes no negative values")

    def fmt(value: float) -> str:
        return str(int(value)) if float(value).is_integer() else f"{value:g}"

    date_part = f"{fmt(days)}D" if days else ""
    time_part = "".join(f"{fmt(v)}{unit}" for unit, v in parts.items() if unit != "D" and v)
    if not date_part and not time_part:
        return "PT0S"
    return "P" + date_part + (f"T{time_part}" if time_part else "")


def json_dumps(obj: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """JSON text of plain data (dates are not converted)."""
    if indent is not None and not 0 <= indent <= _MAX_JSON_INDENT:
        raise ValueError(f"indent must be between 0 and {_MAX_JSON_INDENT}")
    result = json.dumps(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=False)
    current_budget().charge(len(result), "json_dumps()")
    return result


def json_loads(text: str | bytes) -> Any:
    """Plain data from JSON text."""
    return json.loads(text)


# --- builtins with limits ------------------------------------------------------------
def safe_range(*args: int) -> range:
    result = builtins.range(*args)
    try:
        length = len(result)
    except OverflowError:
        length = 2**63
    # A range is cheap, but sum(), list(), sorted() over it are C loops without ticks;
    # charged as ~32 bytes per element since iterating materialises integers.
    current_budget().charge(length * 4, "range()")
    return result


def safe_sum(iterable: Any, /, start: Any = 0) -> Any:
    if isinstance(start, int | float | SafeDecimal):
        return builtins.sum(guards.ticking(iterable), start)
    # sum(list_of_lists, []) is quadratic inside C; add step by step with the size guard.
    total = start
    for item in guards.ticking(iterable):
        total = guards.guarded_add(total, item)
    return total


def safe_round(number: Any, ndigits: int | None = None) -> Any:
    if ndigits is not None and abs(ndigits) > _MAX_ROUND_DIGITS:
        raise ValueError(f"round() takes at most {_MAX_ROUND_DIGITS} digits")
    return builtins.round(number) if ndigits is None else builtins.round(number, ndigits)


def safe_map(function: Any, iterable: Any, /, *iterables: Any) -> Any:
    return guards.ticking(builtins.map(function, iterable, *iterables))


def safe_filter(function: Any, iterable: Any, /) -> Any:
    return guards.ticking(builtins.filter(function, iterable))


def safe_zip(*iterables: Any, strict: bool = False) -> Any:
    return guards.ticking(builtins.zip(*iterables, strict=strict))


def safe_enumerate(iterable: Any, start: int = 0) -> Any:
    return guards.ticking(builtins.enumerate(iterable, start))


HELPERS: dict[str, Any] = {
    "datetime": datetime,
    "date": date,
    "time": time,
    "timedelta": timedelta,
    "timezone": timezone,
    "Decimal": SafeDecimal,
    "now": now,
    "today": today,
    "parse_datetime": parse_datetime,
    "parse_date": parse_date,
    "iso_duration": iso_duration,
    "json_dumps": json_dumps,
    "json_loads": json_loads,
}

_PLAIN_BUILTINS = (
    "len",
    "min",
    "max",
    "abs",
    "any",
    "all",
    "reversed",
    "int",
    "float",
    "bool",
    "isinstance",
    "chr",
    "ord",
    # exceptions a script may raise or catch (all derive from Exception)
    "Exception",
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "IndexError",
    "KeyError",
    "LookupError",
    "NameError",
    "NotImplementedError",
    "OverflowError",
    "RuntimeError",
    "TypeError",
    "ValueError",
    "ZeroDivisionError",
)

SAFE_BUILTINS: dict[str, Any] = {name: getattr(builtins, name) for name in _PLAIN_BUILTINS}
SAFE_BUILTINS.update(
    {
        "None": None,
        "True": True,
        "False": False,
        "str": SafeStr,
        "list": SafeList,
        "tuple": SafeTuple,
        "dict": SafeDict,
        "set": SafeSet,
        "frozenset": SafeFrozenset,
        "sorted": safe_sorted,
        "repr": safe_repr,
        "range": safe_range,
        "sum": safe_sum,
        "round": safe_round,
        "pow": guards.guarded_pow,
        "divmod": guards.guarded_divmod,
        "map": safe_map,
        "filter": safe_filter,
        "zip": safe_zip,
        "enumerate": safe_enumerate,
    }
)
SAFE_BUILTINS.update(HELPERS)
SAFE_BUILTINS.update(guards.GUARDS)
