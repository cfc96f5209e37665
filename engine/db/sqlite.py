"""SQLite connections: pragmas, BEGIN IMMEDIATE, and the raw write path.

A write transaction on SQLite is BEGIN IMMEDIATE ... COMMIT on one connection
per thread that stays open (`ThreadWriters`). The step's hand-written
statements run on that connection's driver cursor; the ORM session handed to
the use case connects lazily, through an engine whose only "pool" is that same
connection, so ORM work joins the transaction the step already holds. A step
that never touches the ORM therefore costs no SQLAlchemy connection, pool or
transaction bookkeeping at all: on this project's machines that bookkeeping
was ~70 µs of every write transaction, more than its BEGIN and COMMIT.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from .checkpoint import FALLBACK_AUTOCHECKPOINT

BUSY_TIMEOUT_S = 60

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # NORMAL is the recommended setting with WAL: consistent after a crash,
    # the last transactions may be lost on power failure.
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}",
    f"PRAGMA wal_autocheckpoint={FALLBACK_AUTOCHECKPOINT}",  # see engine.db.checkpoint
)


def sqlite_file(url: str) -> Path | None:
    path = make_url(url).database
    if path and path != ":memory:" and not path.startswith("file:"):
        return Path(path).expanduser().resolve()
    return None


def _ensure_dir(url: str) -> None:
    """`sqlite:///var/opsflow.db` needs var/ to exist; create it rather than fail on first use."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _configure(dbapi_connection: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
    cursor = dbapi_connection.cursor()
    for pragma in _PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def sqlite_engine(url: str, *, immediate: bool) -> Engine:
    """A pooled SQLAlchemy engine (reads; tests and tools that write through SQLAlchemy)."""
    _ensure_dir(url)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False})
    event.listen(engine, "connect", lambda dbapi_connection, _record: _configure(dbapi_connection))
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # on the driver directly: this runs for every transaction
        connection.connection.driver_connection.execute(begin)

    return engine


class KeptConnection(sqlite3.Connection):
    """A thread's write connection, which only `ThreadWriters` ends or closes.

    SQLAlchemy, seeing it as a pooled connection of the ORM engine, rolls it back when it
    first connects and when a session lets it go, and closes it: none of that may end the
    step's transaction (a rollback on first ORM use would silently drop the write lock).
    """

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass

    def really_commit(self) -> None:
        sqlite3.Connection.commit(self)

    def really_rollback(self) -> None:
        sqlite3.Connection.rollback(self)

    def really_close(self) -> None:
        sqlite3.Connection.close(self)


class ThreadWriters:
    """One open write connection per thread, and an ORM engine that hands out the calling thread's."""

    def __init__(self, url: str) -> None:
        _ensure_dir(url)
        self.database = make_url(url).database or ":memory:"
        self._local = threading.local()
        self._open: weakref.WeakSet[KeptConnection] = weakref.WeakSet()
        self._lock = threading.Lock()
        # The ORM's view of the same connection: no pool of its own, nothing to begin (the step has begun).
        self.orm_engine = create_engine(url, poolclass=NullPool, creator=self.connection)

    def connection(self) -> KeptConnection:
        """The calling thread's write connection (opened on first use)."""
        connection: KeptConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self.database, timeout=BUSY_TIMEOUT_S, check_same_thread=False, factory=KeptConnection,
                uri=self.database.startswith("file:"),
            )
            _configure(connection)
            self._local.connection = connection
            self._local.cursor = connection.cursor()
            with self._lock:
                self._open.add(connection)
        return connection

    def cursor(self) -> sqlite3.Cursor:
        """The calling thread's cursor on its write connection."""
        self.connection()
        cursor: sqlite3.Cursor = self._local.cursor
        return cursor

    def discard(self) -> None:
        """Forget the calling thread's connection (after it failed in a way that may have broken it)."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with self._lock:
                self._open.discard(connection)
            connection.really_close()

    def close_all(self) -> None:
        with self._lock:
            connections = list(self._open)
            self._open.clear()
        for connection in connections:
            connection.really_close()
        self._local = threading.local()
        self.orm_engine.dispose()
