"""Timer start events: when a process with one starts its next case.

A scheduled start is a job ("start:<key>") written when the version is deployed: a date fires once, a
duration once after deployment, a cycle (R[n]/[start]/duration) every period, n times or for ever.
Each occurrence starts its own case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from .errors import InvalidModel, ModelProblem


@dataclass(frozen=True)
class Occurrence:
    due: datetime
    cycles_left: int  # -1: for ever; 0: this is the last one
    period_seconds: float


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def first_occurrence(kind: str, value: str, now: datetime, *, element_id: str | None = None) -> Occurrence:
    """The first start of a schedule; `value` is the timer expression's value. Raises InvalidModel."""
    try:
        if kind == "cycle":
            cycles, start, period = TimerEventDefinition.parse_iso_recurring_interval(value)
            return Occurrence(_aware(start), -1 if cycles < 0 else cycles - 1, period.total_seconds())
        if kind == "date":
            return Occurrence(_aware(TimerEventDefinition.parse_time_or_duration(value)), 0, 0.0)
        duration = TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(value), now)
        return Occurrence(now + duration, 0, 0.0)
    except Exception as exc:  # SpiffWorkflow's parsers raise all kinds
        raise InvalidModel("the start timer cannot be scheduled", [
            ModelProblem(f"timer start event: {value!r} is not a valid ISO-8601 {kind}: {exc}", element_id=element_id,
                         reason="timer_invalid", params={"value": value, "kind": kind})
        ]) from exc


def next_occurrence(payload: dict[str, Any], due: datetime) -> Occurrence | None:
    """The occurrence after the one due at `due`, or None when the schedule is done."""
    cycles = int(payload.get("cycles", 0))
    if payload.get("kind") != "cycle" or cycles == 0:
        return None
    period = float(payload["period"])
    return Occurrence(due + timedelta(seconds=period), -1 if cycles < 0 else cycles - 1, period)
