"""SQLite WAL checkpoints on a background thread instead of inside a committing step.

With the default `wal_autocheckpoint` the commit that pushes the WAL past 1000
pages copies them into the database file and fsyncs it, inside the step: on this
project's machines about one commit in 40 took 5-7 ms, half of all the time
steps spent committing. SQLite recommends running checkpoints from a separate
thread when commit latency matters. Here the write connections keep a much
higher automatic threshold as a safety net (should this thread fall behind or
die), and every `every_commits` write commits wake a thread that runs a PASSIVE
checkpoint on its own connection: PASSIVE never blocks readers or writers, and
the durability guarantees are exactly those of an automatic checkpoint
(synchronous=NORMAL: the WAL and the database are fsynced by the checkpoint).
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

#: The write connections' own threshold (pages), reached only if the background thread falls behind.
FALLBACK_AUTOCHECKPOINT = 8000


class WalCheckpointer:
    """Wakes a daemon thread every `every_commits` commits to checkpoint the WAL of the file at `path`."""

    def __init__(self, path: str, every_commits: int = 32) -> None:
        self.path = path
        self.every_commits = every_commits
        self._commits = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def committed(self) -> None:
        """Note one write commit (called after each successful write transaction)."""
        self._commits += 1  # racy under threads on purpose: an approximate count is enough
        if self._commits < self.every_commits:
            return
        self._commits = 0
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopping:
                    self._thread = threading.Thread(target=self._run, name="opsflow-wal-checkpoint", daemon=True)
                    self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=0, check_same_thread=False, isolation_level=None)
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                try:
                    # a writer that began before the checkpoint ended appends more frames; the WAL is reused
                    # from its start only once it is wholly copied, so go on while that is near
                    for _ in range(4):
                        busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                        if busy or copied >= frames or self._stopping:
                            break
                except sqlite3.Error as exc:  # another process's checkpoint, a closing database: try next time
                    log.debug("background WAL checkpoint of %s skipped: %s", self.path, exc)
        finally:
            connection.close()

    def stop(self) -> None:
        """Stop the thread (after one last wake-up) and wait for it briefly."""
        with self._lock:
            self._stopping = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout=10)
