"""Size-checked stand-ins for the builtin container classes and Decimal.

`list(s)` of a 200 MB string builds 1.6 GB of slots in one C call, and `str([t, t])`
doubles a string, so the constructors must check sizes. They must also stay *classes*
(`isinstance(x, list)`, `dict.fromkeys`, `str.upper` are everyday script code), so each
stand-in is a subclass whose `__new__` checks and then returns a plain builtin object,
and whose metaclass makes `isinstance` answer for the builtin class. No instance of a
stand-in ever exists: task data only ever holds plain builtin objects.
"""

from __future__ import annotations

import builtins
import decimal
from collections.abc import Sized
from typing import Any

from .limits import current_budget

#: Decimals are kept within 10**±MAX_DECIMAL_EXPONENT: `int(Decimal("1e999999"))` is a
#: C loop of over a minute. The sandbox's decimal context enforces it for arithmetic.
MAX_DECIMAL_EXPONENT = 10_000


def decimal_context() -> decimal.Context:
    """The decimal context scripts run under (thread-local, set per evaluation)."""
    return decimal.Context(
        prec=28,
        Emax=MAX_DECIMAL_EXPONENT,
        Emin=-MAX_DECIMAL_EXPONENT,
        traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
    )


class _StandInMeta(type):
    """`isinstance(x, list)` with the stand-in `list` asks about the builtin class."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, cls.__mro__[1])

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls.__mro__[1])


def _charge_input(args: tuple[Any, ...], what: str) -> tuple[Any, ...]:
    if args and isinstance(args[0], Sized):
        current_budget().charge(len(args[0]), what)
    elif args and args[0] is not None:
        from .guards import ticking  # guards imports text which imports nothing of ours

        return (ticking(args[0]), *args[1:])
    return args


class SafeList(builtins.list, metaclass=_StandInMeta):  # type: ignore[type-arg]
    def __new__(cls, *args: Any) -> Any:
        return builtins.list(*_charge_input(args, "list()"))


class SafeTuple(builtins.tuple, metaclass=_StandInMeta):  # type: ignore[type-arg]
    def __new__(cls, *args: Any) -> Any:
        return builtins.tuple(*_charge_input(args, "tuple()"))


class SafeSet(builtins.set, metaclass=_StandInMeta):  # type: ignore[type-arg]
    def __new__(cls, *args: Any) -> Any:
        return builtins.set(*_charge_input(args, "set()"))


class SafeFrozenset(builtins.frozenset, metaclass=_StandInMeta):  # type: ignore[type-arg]
    def __new__(cls, *args: Any) -> Any:
        return builtins.frozenset(*_charge_input(args, "frozenset()"))


class SafeDict(builtins.dict, metaclass=_StandInMeta):  # type: ignore[type-arg]
    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return builtins.dict(*_charge_input(args, "dict()"), **kwargs)


class SafeStr(builtins.str, metaclass=_StandInMeta):
    # The result of str(x) is at most a constant times the size of x, so checking it
    # afterwards bounds repeated doubling (`t = str([t, t])`) to one step over the limit.
    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        result = builtins.str(*args, **kwargs)
        current_budget().charge(len(result), "str()")
        return result


class SafeDecimal(decimal.Decimal, metaclass=_StandInMeta):
    def __new__(cls, value: Any = "0") -> Any:
        result = decimal.Decimal(value)
        if result.is_finite() and abs(result.adjusted()) > MAX_DECIMAL_EXPONENT:
            raise ValueError(f"Decimal exponent out of range (at most ±{MAX_DECIMAL_EXPONENT})")
        return result


def safe_repr(obj: Any) -> str:
    result = builtins.repr(obj)
    current_budget().charge(len(result), "repr()")
    return result


def safe_sorted(iterable: Any, /, *, key: Any = None, reverse: bool = False) -> list[Any]:
    return builtins.sorted(SafeList(iterable), key=key, reverse=reverse)


# Names under which scripts see them.
for _cls, _name in (
    (SafeList, "list"),
    (SafeTuple, "tuple"),
    (SafeSet, "set"),
    (SafeFrozenset, "frozenset"),
    (SafeDict, "dict"),
    (SafeStr, "str"),
    (SafeDecimal, "Decimal"),
):
    _cls.__name__ = _cls.__qualname__ = _name
