"""Run-time guards that RestrictedPython's compiled code calls (`_getattr_`, `_mul_`, ...).

Every guard that can build a big object estimates the result's size first and charges
it to the evaluation's budget (`limits.Budget.charge`), so a refusal happens before the
allocation. Integer arithmetic that is super-linear in C (`*`, `**`, `<<`, `//`, `%`)
is refused above `ScriptLimits.int_bits`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Iterator, Sized
from functools import partial
from typing import Any

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from . import text
from .limits import current_budget, forbidden
from .policy import attribute_refusal

_SEQUENCES = (str, bytes, list, tuple)
_allowed_attribute_names: set[str] = set()
_MAX_CACHED_NAMES = 10_000


def ticking(iterable: Iterable[Any]) -> Iterator[Any]:
    """Iterate with a CPU-budget tick per item (C-level loops over it stay interruptible)."""
    tick = current_budget().tick
    for item in iterable:
        tick()
        yield item


def guarded_getiter(ob: Iterable[Any]) -> Iterator[Any]:
    return ticking(ob)


def guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    """`obj.name` for sandboxed code: no private or introspection attributes, guarded text methods."""
    if name not in _allowed_attribute_names:
        reason = attribute_refusal(name) if isinstance(name, str) else "attribute names must be text"
        if reason is not None:
            raise forbidden(reason)
        if len(_allowed_attribute_names) < _MAX_CACHED_NAMES:  # format fields come from data
            _allowed_attribute_names.add(name)
    if isinstance(obj, str | bytes) or (isinstance(obj, type) and issubclass(obj, str | bytes)):
        guard = text.METHOD_GUARDS.get(name)
        if guard is not None:
            return guard if isinstance(obj, type) else partial(guard, obj)
    elif name == "extend" and isinstance(obj, list):
        return partial(guarded_extend, obj)
    return getattr(obj, name, *default)


def guarded_getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def guarded_write(obj: Any) -> Any:
    """Target of `x[k] = v` / `x.a = v`: only plain containers may be changed."""
    if isinstance(obj, dict | list | set):
        return obj
    raise forbidden(f"changing a {type(obj).__name__} object is not allowed")


def guarded_apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def guarded_extend(target: list[Any], iterable: Iterable[Any]) -> None:
    if isinstance(iterable, Sized):
        current_budget().charge(len(target) + len(iterable), "list.extend()")
        target.extend(iterable)
    else:
        target.extend(ticking(iterable))


# --- operators --------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def _check_ints(a: Any, b: Any, what: str) -> None:
    if _is_int(a) and _is_int(b):
        current_budget().check_int_bits(max(a.bit_length(), b.bit_length()), what)


def guarded_add(a: Any, b: Any) -> Any:
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        current_budget().charge(len(a) + len(b), "concatenation")
    return a + b


def guarded_mul(a: Any, b: Any) -> Any:
    if _is_int(a) and _is_int(b):
        current_budget().check_int_bits(a.bit_length() + b.bit_length(), "multiplication")
    elif isinstance(a, _SEQUENCES) and _is_int(b):
        current_budget().charge(len(a) * max(b, 0), "repetition")
    elif isinstance(b, _SEQUENCES) and _is_int(a):
        current_budget().charge(len(b) * max(a, 0), "repetition")
    return a * b


def guarded_pow(a: Any, b: Any, modulo: Any = None) -> Any:
    budget = current_budget()
    if modulo is not None:
        _check_ints(a, modulo, "pow()")
        return pow(a, b, modulo)
    if _is_int(a) and _is_int(b) and b > 0 and abs(a) > 1:
        budget.check_int_bits(math.ceil(b * math.log2(abs(a))), "power")
    return a**b


def guarded_lshift(a: Any, b: Any) -> Any:
    if _is_int(a) and _is_int(b) and b > 0 and a:
        current_budget().check_int_bits(a.bit_length() + b, "left shift")
    return a << b


def guarded_floordiv(a: Any, b: Any) -> Any:
    _check_ints(a, b, "division")
    return a // b


def guarded_mod(a: Any, b: Any) -> Any:
    if isinstance(a, str | bytes):
        text.check_percent_format(a, b)
    else:
        _check_ints(a, b, "modulo")
    return a % b


def guarded_divmod(a: Any, b: Any) -> tuple[Any, Any]:
    _check_ints(a, b, "divmod()")
    return divmod(a, b)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "|=": operator.ior,
    "^=": operator.ixor,
    "&=": operator.iand,
    "//=": operator.ifloordiv,
    "@=": operator.imatmul,
}
# The same size checks as the binary operators; the in-place operation itself keeps
# Python's aliasing semantics (a list `+=` extends in place).
_INPLACE_CHECKS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": guarded_add,
    "*=": guarded_mul,
    "**=": guarded_pow,
    "<<=": guarded_lshift,
    "%=": guarded_mod,
    "//=": guarded_floordiv,
}


def guarded_inplacevar(op: str, target: Any, value: Any) -> Any:
    check = _INPLACE_CHECKS.get(op)
    if check is not None and not isinstance(target, list):
        return check(target, value)  # immutable target: the checked operation is the result
    if op == "+=" and isinstance(target, list) and isinstance(value, Sized):
        current_budget().charge(len(target) + len(value), "concatenation")
    elif op == "*=" and isinstance(target, list) and _is_int(value):
        current_budget().charge(len(target) * max(value, 0), "repetition")
    return _INPLACE[op](target, value)


def guarded_augitem(container: Any, key: Any, op: str, value: Any) -> None:
    target = guarded_write(container)
    target[key] = guarded_inplacevar(op, target[key], value)


#: Names the compiled code expects in its globals (see policy.py and RestrictedPython).
GUARDS: dict[str, Any] = {
    "_getattr_": guarded_getattr,
    "_getitem_": guarded_getitem,
    "_getiter_": guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": guarded_write,
    "_apply_": guarded_apply,
    "_inplacevar_": guarded_inplacevar,
    "_augitem_": guarded_augitem,
    "_add_": guarded_add,
    "_mul_": guarded_mul,
    "_pow_": guarded_pow,
    "_lshift_": guarded_lshift,
    "_floordiv_": guarded_floordiv,
    "_mod_": guarded_mod,
    "_format_": text.guarded_format_value,
}
