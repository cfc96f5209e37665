"""FastSQL's parameter conversions write exactly what SQLAlchemy's column types write."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from engine.db.fast import FastSQL

_SQLITE = sqlite.dialect()
_BIND = DateTime().dialect_impl(_SQLITE).bind_processor(_SQLITE)


def _sqlalchemy_text(value: datetime) -> str:
    """What SQLAlchemy's DateTime column writes on SQLite for the same instant."""
    return _BIND(value.astimezone(UTC).replace(tzinfo=None))  # type: ignore[misc]


def test_timestamps_are_utc_text_and_remembered_per_instant() -> None:
    fast = FastSQL(is_sqlite=True)
    now = datetime(2026, 12, 2, 8, 30, 15, 123456, tzinfo=UTC)
    shanghai = now.astimezone(timezone(timedelta(hours=8)))
    assert fast.ts(now) == "2026-12-02 08:30:15.123456" == _sqlalchemy_text(now)
    assert fast.ts(shanghai) == fast.ts(now)  # the same instant in another zone: the same text
    assert fast.ts(now + timedelta(microseconds=1)) == "2026-12-02 08:30:15.123457"
    assert fast.ts(now.replace(microsecond=0)) == "2026-12-02 08:30:15.000000"
    for i in range(600):  # the memory stays bounded and answers stay right after it is cleared
        moment = now + timedelta(seconds=i)
        assert fast.ts(moment) == _sqlalchemy_text(moment)
    assert len(fast._ts_text) <= 257
    assert fast.ts(None) is None


def test_json_parameters() -> None:
    fast = FastSQL(is_sqlite=True)
    for value in ([], {}, ["bench"], {"a": [1, 2]}, "text", 0, False):
        assert json.loads(fast.json(value)) == value
    assert fast.json([]) == "[]" and fast.json({}) == "{}"
    assert fast.json(None) is None
