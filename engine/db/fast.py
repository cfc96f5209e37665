"""Raw driver access for the few statements every step runs.

On this project's machines SQLAlchemy spends 120-250 µs executing a simple
statement that the driver itself runs in ~20 µs, and a step runs about a dozen
of them. The hot path (case row, task rows, inbox rows, audit chain) therefore
talks to the DBAPI connection of the session's own transaction directly, with
named parameters (`:name`), and converts JSON and timestamps exactly as the
SQLAlchemy column types do, so ORM reads of the same rows keep working.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session

_NAMED = re.compile(r"(?<![:\w]):(\w+)")
# session.info key of the DBAPI cursor of a write transaction (set by Database.transaction)
CURSOR_KEY = "opsflow_cursor"
# session.info key of the open psycopg pipeline of a `FastSQL.batched` block
PIPELINE_KEY = "opsflow_pipeline"


def _driver_errors() -> tuple[type[Exception], ...]:
    try:
        import psycopg
    except ImportError:  # SQLite only
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


_DRIVER_ERRORS = _driver_errors()


def as_sqlalchemy_error(exc: Exception, sql: str, params: Any = None) -> StatementError:
    """A driver error as SQLAlchemy's (OperationalError, IntegrityError, ...), as if SQLAlchemy had run `sql`:
    callers handle one family of database errors whichever way a statement was issued."""
    base = sqlite3.Error if isinstance(exc, sqlite3.Error) else _DRIVER_ERRORS[-1]
    return DBAPIError.instance(sql, params, exc, base)


@contextmanager
def translated_errors(sql: str, params: Any = None) -> Iterator[None]:
    """`as_sqlalchemy_error` around a block (the hot statements below catch inline: this costs ~1 µs)."""
    try:
        yield
    except _DRIVER_ERRORS as exc:
        raise as_sqlalchemy_error(exc, sql, params) from exc


@lru_cache(maxsize=256)
def _pyformat(sql: str) -> str:
    return _NAMED.sub(r"%(\1)s", sql)


class FastSQL:
    """Executes hand-written SQL on the session's DBAPI connection, in its transaction."""

    def __init__(self, is_sqlite: bool) -> None:
        self.is_sqlite = is_sqlite
        self._ts_text: dict[datetime, str] = {}
        if not is_sqlite:
            from psycopg.types.json import Jsonb

            self._jsonb = Jsonb

    # -- parameters --------------------------------------------------------------

    def json(self, value: Any) -> Any:
        if value is None:
            return None
        if not self.is_sqlite:
            return self._jsonb(value)
        if not value and type(value) in (list, dict):  # most JSON columns of a step are empty
            return "[]" if type(value) is list else "{}"
        return json.dumps(value)

    def ts(self, value: datetime | None) -> Any:
        if value is None:
            return None
        if not self.is_sqlite:
            return value.astimezone(UTC)
        # A step writes the same few instants (its `now`) into many columns: remember their text. Aware
        # datetimes are equal exactly when they are the same instant, which is what the text encodes.
        text = self._ts_text.get(value)
        if text is None:
            if len(self._ts_text) > 256:
                self._ts_text.clear()
            # the text SQLAlchemy's SQLite DateTime writes (isoformat is much faster than strftime)
            text = value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
            self._ts_text[value] = text
        return text

    # -- results ---------------------------------------------------------------

    def load_json(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @staticmethod
    def load_ts(value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    # -- execution ---------------------------------------------------------------

    @contextmanager
    def batched(self, session: Session) -> Iterator[None]:
        """On PostgreSQL, the statements run inside go to the server without waiting for each reply (psycopg's
        pipeline mode): writes whose results nobody reads cost one round trip together instead of one each.
        A result read inside waits for what was sent before it (`fetch`, and `execute`, whose row count its
        callers check); the block's end waits for the rest. A failed statement is raised there, as SQLAlchemy's
        error, and the transaction rolls back. Only this module's statements may run inside: SQLAlchemy reads
        a result as soon as it executes. On SQLite, in-process, it does nothing."""
        cursor = session.info.get(CURSOR_KEY)
        if self.is_sqlite or cursor is None or PIPELINE_KEY in session.info:
            yield
            return
        try:
            with cursor.connection.pipeline() as pipeline:
                session.info[PIPELINE_KEY] = pipeline
                try:
                    yield
                finally:
                    del session.info[PIPELINE_KEY]
        except _DRIVER_ERRORS as exc:
            raise as_sqlalchemy_error(exc, "(statements sent together in a pipeline)") from exc

    def _cursor(self, session: Session) -> Any:
        """The write transaction's own cursor, or (reads) a new one on the session's connection."""
        cursor = session.info.get(CURSOR_KEY)
        if cursor is not None:
            return cursor
        return session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]

    def _done(self, session: Session, cursor: Any) -> None:
        if cursor is not session.info.get(CURSOR_KEY):
            cursor.close()

    def execute(self, session: Session, sql: str, params: dict[str, Any] | None = None) -> int:
        """Run one statement; the number of rows it changed."""
        return self._run(session, sql, params, wait=True)

    def send(self, session: Session, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run one statement whose result nobody reads: inside `batched` it does not wait for the reply."""
        self._run(session, sql, params, wait=False)

    def _run(self, session: Session, sql: str, params: dict[str, Any] | None, *, wait: bool) -> int:
        cursor = self._cursor(session)
        try:
            try:
                cursor.execute(sql if self.is_sqlite else _pyformat(sql), params or {})
                if wait and PIPELINE_KEY in session.info:
                    session.info[PIPELINE_KEY].sync()  # the row count is this statement's once it is back
            except _DRIVER_ERRORS as exc:
                raise as_sqlalchemy_error(exc, sql, params) from exc
            return int(cursor.rowcount)
        finally:
            self._done(session, cursor)

    def execute_many(self, session: Session, sql: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        cursor = self._cursor(session)
        try:
            try:
                cursor.executemany(sql if self.is_sqlite else _pyformat(sql), rows)
            except _DRIVER_ERRORS as exc:
                raise as_sqlalchemy_error(exc, sql, rows) from exc
        finally:
            self._done(session, cursor)

    def fetch(self, session: Session, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name."""
        cursor = self._cursor(session)
        try:
            try:
                cursor.execute(sql if self.is_sqlite else _pyformat(sql), params or {})
                if PIPELINE_KEY in session.info:
                    # replies to statements sent before may already sit on this cursor: wait for this one's own
                    session.info[PIPELINE_KEY].sync()
                rows = cursor.fetchall()
            except _DRIVER_ERRORS as exc:
                raise as_sqlalchemy_error(exc, sql, params) from exc
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in rows]
        finally:
            self._done(session, cursor)
