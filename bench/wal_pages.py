"""WAL pages per commit, by table and index: what each of the benchmark's steps writes to SQLite.

Run:  .venv/bin/python bench/wal_pages.py [--instances N]

Runs N instances of the engine benchmark's flow (start -> user task -> gateway -> user task -> end) on a
fresh SQLite file, then reads the frame headers of the WAL they wrote and names the B-tree each page
belongs to (SQLite's `dbstat` table). Every page a transaction changes is written to the WAL once at its
commit, so pages per commit is what a commit costs in write calls; it does not depend on the machine.
(`sqlite_schema` is page 1, which also holds the database header: rewritten whenever the file grows.)

A read transaction held open from the start keeps the WAL from being restarted (a checkpoint cannot pass
a reader's snapshot), so every frame the instances wrote is still in the file, in order.
"""

from __future__ import annotations

import argparse
import collections
import sqlite3
import struct
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine_bench import engine_instances_per_second, make_engine

WAL_HEADER, FRAME_HEADER = 32, 24


def frames(wal: bytes, page_size: int, start: int) -> list[tuple[int, bool]]:
    """(page number, ends a commit) of each frame from frame `start` on, while the salts match the header's."""
    salts = wal[16:24]
    out = []
    offset = WAL_HEADER + start * (FRAME_HEADER + page_size)
    while offset + FRAME_HEADER + page_size <= len(wal) and wal[offset + 8:offset + 16] == salts:
        page, db_size = struct.unpack(">II", wal[offset:offset + 8])
        out.append((page, db_size != 0))
        offset += FRAME_HEADER + page_size
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/bench.db"
        engine = make_engine(f"sqlite:///{path}")
        engine_instances_per_second(engine, 50)  # tables and indexes past their first pages
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        engine_instances_per_second(engine, 1)  # so the reader's snapshot includes WAL frames
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM audit_event").fetchone()
        page_size = reader.execute("PRAGMA page_size").fetchone()[0]
        start = len(frames(Path(f"{path}-wal").read_bytes(), page_size, 0))
        engine_instances_per_second(engine, args.instances)
        written = frames(Path(f"{path}-wal").read_bytes(), page_size, start)
        reader.execute("COMMIT")
        try:
            owner = dict(reader.execute("SELECT pageno, name FROM dbstat").fetchall())
        except sqlite3.OperationalError:
            print("this SQLite has no dbstat table: pages are shown by number")
            owner = {}
        engine.close()
    commits = sum(ends for _, ends in written)
    by_tree = collections.Counter(owner.get(page, f"page {page}") for page, _ in written)
    print(f"{args.instances} instances, {commits} commits, {len(written)} pages written ({page_size} bytes each)")
    print(f"pages per commit: {len(written) / commits:.1f}; per instance: {len(written) / args.instances:.1f}")
    for name, count in by_tree.most_common():
        print(f"  {count / commits:5.2f}  {name}")


if __name__ == "__main__":
    main()
