"""Guards for text building: str/bytes methods, %-formatting, str.format and f-strings.

`str.format` is replaced by a formatter that resolves `{0.attr}` / `{0[key]}` fields
through the sandbox's attribute guard, because the stock one reaches any attribute
(`'{0.__class__}'.format(x)`). Widths and precisions in format specs are checked,
because `f"{x:>1000000000}"` allocates a gigabyte in one C call.
"""

from __future__ import annotations

import _string  # the C helper string.Formatter itself uses to split field names
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .limits import current_budget, forbidden

_SPEC_NUMBER = re.compile(r"\d+")
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")
_MAX_DIGITS = 12  # any width with more digits is over every limit anyway


def check_spec(spec: str, what: str) -> None:
    """Refuse a format spec whose width or precision is over the size limit."""
    budget = current_budget()
    for number in _SPEC_NUMBER.findall(spec):
        size = 10**_MAX_DIGITS if len(number) > _MAX_DIGITS else int(number)
        budget.charge(size, what)


def check_percent_format(template: str | bytes, args: Any) -> None:
    """Check `template % args` before it runs: no `*` widths, widths within the size limit."""
    spec_text = template.decode("latin-1") if isinstance(template, bytes) else template
    budget = current_budget()
    estimate = len(template)
    for match in _PERCENT_SPEC.finditer(spec_text):
        width, precision, _ = match.groups()
        if "*" in (width, precision):
            raise forbidden('"*" widths in %-formatting are not allowed')
        for number in (width, precision):
            if number:
                estimate += 10**_MAX_DIGITS if len(number) > _MAX_DIGITS else int(number)
    values = args.values() if isinstance(args, Mapping) else args if isinstance(args, tuple) else (args,)
    estimate += sum(len(v) for v in values if isinstance(v, str | bytes | list | tuple | dict))
    budget.charge(estimate, "%-formatting")


class SafeFormatter(string.Formatter):
    """str.format for sandboxed code: guarded fields, checked specs, bounded result."""

    def __init__(self) -> None:
        self.total = 0

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        from .guards import guarded_getattr  # guards imports this module

        first, rest = _string.formatter_field_name_split(field_name)
        obj = self.get_value(first, args, kwargs)
        for is_attribute, key in rest:
            obj = guarded_getattr(obj, key) if is_attribute else obj[key]
        return obj, first

    def format_field(self, value: Any, format_spec: str) -> str:
        check_spec(format_spec, "format()")
        result = format(value, format_spec)
        self.total += len(result)
        current_budget().charge(self.total, "format()")
        return result


def safe_format(template: str, /, *args: Any, **kwargs: Any) -> str:
    if not isinstance(template, str):
        raise TypeError("format() needs a str template")
    return SafeFormatter().vformat(template, args, kwargs)


def safe_format_map(template: str, mapping: Mapping[str, Any], /) -> str:
    if not isinstance(template, str):
        raise TypeError("format_map() needs a str template")
    return SafeFormatter().vformat(template, (), mapping)


def guarded_format_value(value: Any, conversion: str, spec: str) -> str:
    """One f-string field: `f"{x!r:>10}"` compiles to `_format_(x, "r", ">10")`."""
    if conversion == "r":
        value = repr(value)
    elif conversion == "s":
        value = str(value)
    elif conversion == "a":
        value = ascii(value)
    check_spec(spec, "f-string")
    result = format(value, spec)
    current_budget().charge(len(result), "f-string")
    return result


# --- str / bytes methods whose result can be much larger than their input ----------
def _padded(method: str) -> Callable[..., Any]:
    def guard(s: Any, width: int, *args: Any) -> Any:
        current_budget().charge(max(width, len(s)), f"{method}()")
        return getattr(s, method)(width, *args)

    return guard


def _zfill(s: Any, width: int) -> Any:
    current_budget().charge(max(width, len(s)), "zfill()")
    return s.zfill(width)


def _expandtabs(s: Any, tabsize: int = 8) -> Any:
    tab = b"\t" if isinstance(s, bytes) else "\t"
    current_budget().charge(len(s) + s.count(tab) * max(tabsize, 0), "expandtabs()")
    return s.expandtabs(tabsize)


def _replace(s: Any, old: Any, new: Any, count: int = -1) -> Any:
    hits = len(s) + 1 if not old else s.count(old)
    if count >= 0:
        hits = min(hits, count)
    current_budget().charge(len(s) + hits * max(len(new) - len(old), 0), "replace()")
    return s.replace(old, new, count)


def _join(sep: Any, iterable: Iterable[Any]) -> Any:
    from .guards import ticking  # guards imports this module

    items = list(ticking(iterable))
    size = sum(len(item) for item in items if isinstance(item, str | bytes))
    current_budget().charge(size + len(sep) * max(len(items) - 1, 0), "join()")
    return sep.join(items)


def _splitter(method: str) -> Callable[..., Any]:
    def guard(s: Any, sep: Any = None, maxsplit: int = -1) -> Any:
        parts = len(s) // 2 + 1 if sep is None else (s.count(sep) + 1 if sep else 1)
        if maxsplit >= 0:
            parts = min(parts, maxsplit + 1)
        current_budget().charge(parts * 8, f"{method}()")  # each part is a new object
        return getattr(s, method)(sep, maxsplit)

    return guard


def _splitlines(s: Any, keepends: bool = False) -> Any:
    newline, ret = (b"\n", b"\r") if isinstance(s, bytes) else ("\n", "\r")
    current_budget().charge((s.count(newline) + s.count(ret) + 1) * 8, "splitlines()")
    return s.splitlines(keepends)


def _encode(s: Any, encoding: str = "utf-8", errors: str = "strict") -> Any:
    current_budget().charge(len(s), "encode()")
    return s.encode(encoding, errors)


METHOD_GUARDS: dict[str, Callable[..., Any]] = {
    "ljust": _padded("ljust"),
    "rjust": _padded("rjust"),
    "center": _padded("center"),
    "zfill": _zfill,
    "expandtabs": _expandtabs,
    "replace": _replace,
    "join": _join,
    "split": _splitter("split"),
    "rsplit": _splitter("rsplit"),
    "splitlines": _splitlines,
    "encode": _encode,
    "format": safe_format,
    "format_map": safe_format_map,
}
