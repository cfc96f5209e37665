"""Engines, sessions and the unit of work.

Every use case runs in `Database.transaction()`: one database transaction that
commits everything the use case wrote (case state, inbox rows, audit events)
or nothing. On SQLite a write transaction starts with BEGIN IMMEDIATE, so two
writers never both read and then fail to upgrade their lock; reads use a
separate engine with ordinary deferred transactions so they never block.

The transaction is a Core connection's; the ORM session handed to the use case
is bound to that connection and only joins it (it never commits it). A step
that does all its work through `FastSQL` therefore never starts the session's
own transaction machinery, which cost more than the step's dozen statements
(~100 µs of the ~200 µs a write transaction spent in SQLAlchemy on SQLite).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from .checkpoint import FALLBACK_AUTOCHECKPOINT, WalCheckpointer
from .fast import CURSOR_KEY, FastSQL


def _sqlite_file(url: str) -> Path | None:
    path = make_url(url).database
    if path and path != ":memory:" and not path.startswith("file:"):
        return Path(path).expanduser().resolve()
    return None


def _ensure_sqlite_dir(url: str) -> None:
    """`sqlite:///var/opsflow.db` needs var/ to exist; create it rather than fail on first use."""
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    _ensure_sqlite_dir(url)
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL is the recommended setting with WAL: consistent after a crash,
        # the last transactions may be lost on power failure.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_AUTOCHECKPOINT}")  # see engine.db.checkpoint
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # on the driver directly: this runs for every transaction
        connection.connection.driver_connection.execute(begin)

    return engine


class Database:
    """Connections to the configured database; nothing connects until first use."""

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.fast = FastSQL(self.is_sqlite)
        self._checkpointer: WalCheckpointer | None = None
        if self.is_sqlite:
            file = _sqlite_file(url)
            self._checkpointer = WalCheckpointer(str(file)) if file is not None else None
            self.write_engine = _sqlite_engine(url, immediate=True)
            self.read_engine = _sqlite_engine(url, immediate=False)
        else:
            self.write_engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
            self.read_engine = self.write_engine
        # rollback_only: the session flushes into the connection's transaction but never commits it
        self._writer = sessionmaker(expire_on_commit=False, autoflush=False, join_transaction_mode="rollback_only")
        self._reader = sessionmaker(self.read_engine, expire_on_commit=False, autoflush=False)
        self._before_commit: list[Callable[[Session], None]] = []

    def on_before_commit(self, hook: Callable[[Session], None]) -> None:
        """Run `hook(session)` inside every write transaction just before it commits (after the ORM flush)."""
        self._before_commit.append(hook)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        with self.write_engine.connect() as connection:
            outer = connection.begin()
            session = self._writer(bind=connection)
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            session.info[CURSOR_KEY] = cursor  # FastSQL runs every statement of the unit on this cursor
            try:
                yield session
                if session.in_transaction():  # the use case used the ORM
                    session.flush()
                for hook in self._before_commit:
                    hook(session)
                outer.commit()
            except BaseException:
                if outer.is_active:
                    outer.rollback()
                raise
            finally:
                session.info.pop(CURSOR_KEY, None)
                cursor.close()
                session.close()
        if self._checkpointer is not None:
            self._checkpointer.committed()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session; closing it ends its transaction and leaves loaded rows readable."""
        session = self._reader()
        try:
            yield session
        finally:
            session.close()

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


def null_pool_engine(url: str) -> Engine:
    """A throwaway engine (migrations, admin tasks)."""
    return create_engine(url, poolclass=NullPool)
