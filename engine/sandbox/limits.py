"""Resource limits of one sandboxed evaluation: the CPU budget and the size guards.

Why not `setrlimit` or `SIGALRM`: both are process-wide (or main-thread only) and the
sandbox runs inside a threaded web server and worker threads. Why not `sys.settrace`:
a trace function that raises is silently uninstalled by CPython, so a script that
catches the exception runs on unbounded; it also slows every line several times and
displaces coverage/debugger tracers. Instead the policy (see `policy.py`) compiles a
call to `_tick_()` into every loop iteration and function entry. The tick is cheap
(one monotonic clock read) and consults the thread's CPU clock only when enough wall
time has passed for the CPU budget to possibly be spent, so it is exact and costs
~100 ns. Once expired, a budget stays expired: every later tick raises again, so
neither `except`, `finally` nor a handler that raises can keep a script running.

Size guards refuse an operation *before* it allocates, from an estimate of 8 bytes per
item (character, list slot, 64 bits of an integer). Every guarded allocation is also
charged to the evaluation, which may spend at most `CUMULATIVE_FACTOR` × memory_bytes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

#: Estimated bytes per item (character, element, 64-bit limb) of a guarded result.
ITEM_BYTES = 8
#: An evaluation may allocate, through guarded operations, this many times memory_bytes in total.
CUMULATIVE_FACTOR = 4


@dataclass(frozen=True)
class ScriptLimits:
    """Limits of one script or expression evaluation.

    cpu_seconds: CPU time of the evaluating thread.
    memory_bytes: the largest single object a script may build (estimated before it is built).
    int_bits: the largest integer arithmetic may produce; big-integer multiplication and
        division are super-linear C loops that no tick can interrupt, so they are capped.
    """

    cpu_seconds: float = 5.0
    memory_bytes: int = 256 * 1024 * 1024
    int_bits: int = 100_000

    @property
    def max_items(self) -> int:
        """Largest sequence length (characters or elements) a script may build."""
        return self.memory_bytes // ITEM_BYTES


class SandboxAbort(BaseException):
    """Raised inside sandboxed code to stop it; converted to ScriptError at the boundary.

    It derives from BaseException so that a script's `except Exception:` does not catch
    it (the policy refuses bare `except:`).
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "forbidden", "timeout", "memory"
        self.message = message


def forbidden(message: str) -> SandboxAbort:
    return SandboxAbort("forbidden", message)


class Budget:
    """CPU and allocation budget of one evaluation, bound to the thread that runs it."""

    __slots__ = ("_next_wall_check", "cpu_deadline", "expired", "limits", "spent_bytes")

    def __init__(self, limits: ScriptLimits) -> None:
        self.limits = limits
        self.cpu_deadline = time.thread_time() + limits.cpu_seconds
        # CPU time can never run faster than wall time, so until this wall-clock instant
        # the CPU deadline cannot have been reached and the costly thread clock is skipped.
        self._next_wall_check = time.monotonic() + limits.cpu_seconds
        self.expired = False
        self.spent_bytes = 0

    def tick(self, _monotonic=time.monotonic) -> None:
        """Called by compiled code on every loop iteration and function entry."""
        if _monotonic() >= self._next_wall_check:
            self._check_cpu()

    def _check_cpu(self) -> None:
        remaining = self.cpu_deadline - time.thread_time()
        if remaining > 0 and not self.expired:
            self._next_wall_check = time.monotonic() + remaining
            return
        self.expired = True
        self._next_wall_check = 0.0  # every later tick raises again
        raise SandboxAbort("timeout", f"script ran longer than its CPU limit of {self.limits.cpu_seconds:g} s")

    def charge(self, items: int, what: str) -> None:
        """Refuse building `items` items (chars/elements) if it breaks the size limits."""
        nbytes = items * ITEM_BYTES
        limit = self.limits.memory_bytes
        if nbytes > limit:
            raise SandboxAbort(
                "memory",
                f"{what} would build about {_human(nbytes)}, more than the limit of {_human(limit)}",
            )
        self.spent_bytes += nbytes
        if self.spent_bytes > CUMULATIVE_FACTOR * limit:
            raise SandboxAbort(
                "memory",
                f"script allocated more than {_human(CUMULATIVE_FACTOR * limit)} in total",
            )

    def check_int_bits(self, bits: int, what: str) -> None:
        if bits > self.limits.int_bits:
            raise SandboxAbort(
                "memory",
                f"{what} would produce an integer of about {bits:,} bits, "
                f"more than the limit of {self.limits.int_bits:,}",
            )


def _human(nbytes: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if nbytes < 1024 or unit == "TiB":
            return f"{nbytes:,.0f} {unit}"
        nbytes //= 1024
    raise AssertionError("unreachable")


_local = threading.local()


def current_budget() -> Budget:
    """The budget of the evaluation running on this thread (guards and helpers use it)."""
    budget: Budget | None = getattr(_local, "budget", None)
    if budget is None:
        # A sandboxed callable escaped its evaluation (e.g. a lambda returned into task data)
        # and host code calls it: refuse with an ordinary exception the host can handle.
        raise RuntimeError("sandboxed code may only run inside an evaluation")
    return budget


def enter_budget(budget: Budget) -> Budget | None:
    previous: Budget | None = getattr(_local, "budget", None)
    _local.budget = budget
    return previous


def leave_budget(previous: Budget | None) -> None:
    _local.budget = previous
