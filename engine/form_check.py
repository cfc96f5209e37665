"""A quick acceptor for the simple form schemas most tasks have, in front of jsonschema.

jsonschema spends ~20 µs validating even a one-field form, on every completion. Most forms are an
object of scalar fields with types, enums, lengths, bounds and patterns; for those `quick_acceptor`
builds a plain function that answers True only when the data is certainly valid. Anything else (an
unknown keyword, a format, an enum match it is unsure of, any failure) answers False, and the caller
asks jsonschema, which stays the only judge of invalid data and the only source of error messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# Keywords that never affect validity.
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$schema", "$id", "$comment",
                          "readOnly", "writeOnly", "deprecated"})
_PROPERTY_KEYWORDS = frozenset({"type", "enum", "minLength", "maxLength", "pattern", "minimum", "maximum",
                                "exclusiveMinimum", "exclusiveMaximum"})
_TOP_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties"})

Check = Callable[[Any], bool]
_SCALARS = (str, int, float, bool, type(None))


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


_TYPES: dict[str, Check] = {
    "string": lambda v: type(v) is str,
    "boolean": lambda v: type(v) is bool,
    "number": _is_number,
    # Draft 2020-12: 3.0 is an integer
    "integer": lambda v: type(v) is int or (type(v) is float and v.is_integer()),
    "null": lambda v: v is None,
}


Holds = Callable[[Any, Any], bool]
_LENGTHS: tuple[tuple[str, Holds], ...] = (("minLength", lambda v, n: len(v) >= n),
                                          ("maxLength", lambda v, n: len(v) <= n))
_BOUNDS: tuple[tuple[str, Holds], ...] = (
    ("minimum", lambda v, n: v >= n), ("maximum", lambda v, n: v <= n),
    ("exclusiveMinimum", lambda v, n: v > n), ("exclusiveMaximum", lambda v, n: v < n),
)


def _on_strings(holds: Holds, limit: int) -> Check:
    """A length keyword: it applies to strings only (others pass it, as in JSON Schema)."""
    return lambda v: type(v) is not str or holds(v, limit)


def _on_numbers(holds: Holds, limit: Any) -> Check:
    """A bound keyword: it applies to numbers only."""
    return lambda v: not _is_number(v) or holds(v, limit)


def _plain(keyword: str) -> bool:
    return keyword in _ANNOTATIONS or keyword.startswith("x-")


def _property_check(schema: Any) -> Check | None:
    """All the checks of one field's schema, or None when the schema uses anything not handled here."""
    if not isinstance(schema, dict) or any(k not in _PROPERTY_KEYWORDS and not _plain(k) for k in schema):
        return None
    checks: list[Check] = []
    if "type" in schema:
        kind = _TYPES.get(schema["type"]) if isinstance(schema["type"], str) else None
        if kind is None:
            return None
        checks.append(kind)
    if "enum" in schema:
        if not isinstance(schema["enum"], list):
            return None
        members = {(type(e), e) for e in schema["enum"] if type(e) in _SCALARS}
        checks.append(lambda v: type(v) in _SCALARS and (type(v), v) in members)  # same type and value: equal
    for keyword, holds in _LENGTHS:
        if keyword in schema:
            limit = schema[keyword]
            if type(limit) is not int:
                return None
            checks.append(_on_strings(holds, limit))
    if "pattern" in schema:
        if not isinstance(schema["pattern"], str):
            return None
        try:
            search = re.compile(schema["pattern"]).search  # jsonschema uses re.search too
        except re.error:
            return None
        checks.append(lambda v: type(v) is not str or search(v) is not None)
    for keyword, holds in _BOUNDS:
        if keyword in schema:
            limit = schema[keyword]
            if not _is_number(limit):
                return None
            checks.append(_on_numbers(holds, limit))
    return lambda value: all(check(value) for check in checks)


def quick_acceptor(schema: Any) -> Check | None:
    """A function of the submitted data that is True only for data `schema` certainly accepts; None when
    the schema is outside the handled subset (then only jsonschema decides)."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return None
    if any(k not in _TOP_KEYWORDS and not _plain(k) for k in schema):
        return None
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    closed = schema.get("additionalProperties", True)
    if not isinstance(properties, dict) or not isinstance(required, list) or type(closed) is not bool:
        return None
    checks = {name: _property_check(sub) for name, sub in properties.items()}
    if any(check is None for check in checks.values()):
        return None
    needed = frozenset(required)

    def accepts(data: Any) -> bool:
        if type(data) is not dict or not needed.issubset(data):
            return False
        for name, value in data.items():
            check = checks.get(name)
            if check is None:
                if closed is False:
                    return False
                continue
            if not check(value):
                return False
        return True

    return accepts
