"""Engines, sessions and the unit of work.

Every use case runs in `Database.transaction()`: one database transaction that
commits everything the use case wrote (case state, inbox rows, audit events)
or nothing. On SQLite a write transaction starts with BEGIN IMMEDIATE, so two
writers never both read and then fail to upgrade their lock; reads use a
separate engine with ordinary deferred transactions so they never block.

The hot path of a step talks to the driver through `FastSQL`, on the cursor of
the transaction (`session.info[CURSOR_KEY]`). On SQLite that is the calling
thread's own write connection (see engine.db.sqlite) and the ORM session
connects to it only if the use case uses the ORM; on PostgreSQL the
transaction is a pooled Core connection's and the session joins it (it never
commits it). There the writes of a step and of the before-commit hooks are
pipelined (`FastSQL.batched`); the ORM's flush runs before, outside the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, cast

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from .checkpoint import WalCheckpointer
from .fast import CURSOR_KEY, FastSQL, translated_errors
from .sqlite import ThreadWriters, sqlite_engine, sqlite_file

_UNIT_OF_WORK: ContextVar[tuple[Database, Session] | None] = ContextVar("opsflow_unit_of_work", default=None)


class _LazySession:
    """The ORM session of a SQLite write transaction, made when the use case first uses the ORM.

    Most steps only run FastSQL statements, which need nothing of a session but its `info` (the
    transaction's cursor and pending audit events); building a Session for them cost more than BEGIN.
    The real session, once made, shares this `info`."""

    __slots__ = ("_make", "_real", "info")

    def __init__(self, make: Callable[[], Session]) -> None:
        self._make = make
        self._real: Session | None = None
        self.info: dict[Any, Any] = {}

    def _session(self) -> Session:
        if self._real is None:
            real = self._make()
            real.info = self.info  # type: ignore[misc]  # (a memoized attribute: the instance's own from here)
            self._real = real
        return self._real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session(), name)

    def in_transaction(self) -> bool:
        return self._real is not None and self._real.in_transaction()


class Database:
    """Connections to the configured database; nothing connects until first use."""

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.fast = FastSQL(self.is_sqlite)
        self._checkpointer: WalCheckpointer | None = None
        self._writers: ThreadWriters | None = None
        if self.is_sqlite:
            file = sqlite_file(url)
            self._checkpointer = WalCheckpointer(str(file)) if file is not None else None
            self._writers = ThreadWriters(url)
            self.write_engine = sqlite_engine(url, immediate=True)
            self.read_engine = sqlite_engine(url, immediate=False)
            self._sqlite_writer = sessionmaker(self._writers.orm_engine, expire_on_commit=False, autoflush=False)
        else:
            self.write_engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
            self.read_engine = self.write_engine
        # rollback_only: the session flushes into the connection's transaction but never commits it
        self._writer = sessionmaker(expire_on_commit=False, autoflush=False, join_transaction_mode="rollback_only")
        self._reader = sessionmaker(self.read_engine, expire_on_commit=False, autoflush=False)
        self._before_commit: list[Callable[[Session], None]] = []

    def on_before_commit(self, hook: Callable[[Session], None]) -> None:
        """Run `hook(session)` inside every write transaction just before it commits (after the ORM flush).

        A hook runs FastSQL statements only: on PostgreSQL they are sent in one pipeline with the COMMIT."""
        self._before_commit.append(hook)

    def _finish(self, session: Session) -> None:
        self._flush_orm(session)
        self._run_hooks(session)

    @staticmethod
    def _flush_orm(session: Session) -> None:
        if session.in_transaction():  # the use case used the ORM
            session.flush()

    def _run_hooks(self, session: Session) -> None:
        for hook in self._before_commit:
            hook(session)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        opened = self._sqlite_transaction(self._writers) if self._writers is not None else self._pg_transaction()
        with opened as session:
            token = _UNIT_OF_WORK.set((self, session))
            try:
                yield session
            finally:
                _UNIT_OF_WORK.reset(token)

    def current_transaction(self) -> Session | None:
        """The session of this database's unit of work open in this thread, if any: code deep inside a step
        reads with it instead of taking a second connection, and sees what the step wrote."""
        current = _UNIT_OF_WORK.get()
        return current[1] if current is not None and current[0] is self else None

    @contextmanager
    def _pg_transaction(self) -> Iterator[Session]:
        with self.write_engine.connect() as connection:
            outer = connection.begin()
            session = self._writer(bind=connection)
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            session.info[CURSOR_KEY] = cursor  # FastSQL runs every statement of the unit on this cursor
            try:
                yield session
                self._flush_orm(session)  # SQLAlchemy reads results at once: never inside a pipeline
                with self.fast.batched(session):  # the hooks' writes (the audit chain) travel with the COMMIT
                    self._run_hooks(session)
                    outer.commit()
            except BaseException:
                if outer.is_active:
                    outer.rollback()
                raise
            finally:
                session.info.pop(CURSOR_KEY, None)
                cursor.close()
                session.close()

    @contextmanager
    def _sqlite_transaction(self, writers: ThreadWriters) -> Iterator[Session]:
        connection = writers.connection()
        if connection.in_transaction:
            raise RuntimeError("a write transaction is already open on this thread; they do not nest")
        session = cast(Session, _LazySession(self._sqlite_writer))
        session.info[CURSOR_KEY] = cursor = writers.cursor()
        try:
            with translated_errors("BEGIN IMMEDIATE"):
                cursor.execute("BEGIN IMMEDIATE")
            yield session
            self._finish(session)
            with translated_errors("COMMIT"):
                connection.really_commit()  # also commits what the ORM wrote: it is the same connection
        except BaseException:
            try:
                if connection.in_transaction:
                    connection.really_rollback()
            except Exception:  # a broken connection: drop it, keep the original error
                writers.discard()
            raise
        finally:
            session.info.pop(CURSOR_KEY, None)
            # After COMMIT/ROLLBACK, so SQLAlchemy's reset of the connection finds nothing open. A session that
            # never began (most steps use no ORM) holds no connection and no objects: nothing to release.
            if session.in_transaction():
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
        if self._writers is not None:
            self._writers.close_all()


def null_pool_engine(url: str) -> Engine:
    """A throwaway engine (migrations, admin tasks)."""
    return create_engine(url, poolclass=NullPool)
