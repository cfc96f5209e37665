"""Worker benchmark: due timers fired per second by 1 and then 2 worker processes, and firing delay.

Run:  OPSFLOW_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/opsflow_bench \\
          .venv/bin/python bench/worker_bench.py [--timers 10000] [--latency-timers 500]
      (the database is emptied first; without OPSFLOW_DATABASE_URL a SQLite file is used)

Throughput: N cases wait on timers all due at one instant; then W `run.py worker` processes fire them;
fired/s = N / time from the due instant until the last one fired (each firing is its own transaction).
Latency: 2 workers run while cases are started, at half the measured 2-worker rate (so the workers can keep
up), whose timers fall due 2 s later; delay = audit time of the firing - due time (median and p99).
Targets (issue): every timer fired exactly once; 2 workers >= 1.6 x one; p99 delay < 2 s.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from engine.core import Engine  # noqa: E402
from engine.db.models import Job  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.views import Actor, AuditType, Role  # noqa: E402

HERE = Path(__file__).resolve().parent
USER = Actor("bencher", roles=frozenset({Role.STAFF, Role.PROCESS_OWNER, Role.ADMIN}))


def pending(engine: Engine) -> int:
    with engine.db.reading() as session:
        return session.execute(select(func.count()).select_from(Job).where(Job.kind == "timer")).scalar_one()


def workers(url: str, count: int) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "OPSFLOW_DATABASE_URL": url, "OPSFLOW_FORMS_DIR": str(HERE / "forms")}
    return [subprocess.Popen([sys.executable, "run.py", "worker", "--name", f"bench-{n}", "--poll", "0.05"],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for n in range(count)]


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(timeout=120)


def throughput(engine: Engine, url: str, timers: int, count: int) -> float:
    rate_probe = time.perf_counter()
    probe = min(100, timers)
    far = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for _ in range(probe):
        engine.instances.start("bench_timer_at", {"due": far}, USER)
    per_case = (time.perf_counter() - rate_probe) / probe
    due = datetime.now(UTC) + timedelta(seconds=per_case * timers * 1.3 + 5)
    with engine.db.transaction() as session:  # the probe cases must not count
        engine.db.fast.execute(session, "DELETE FROM job")
    for _ in range(timers):
        engine.instances.start("bench_timer_at", {"due": due.isoformat()}, USER)
    procs = workers(url, count)
    try:
        while datetime.now(UTC) < due:
            time.sleep(0.01)
        started = time.perf_counter()
        while pending(engine):
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
    finally:
        stop(procs)
    return timers / elapsed


def latency(engine: Engine, url: str, timers: int, rate: float) -> tuple[float, float]:
    procs = workers(url, 2)
    try:
        cases = []
        began = time.perf_counter()
        for n in range(timers):
            cases.append(engine.instances.start("bench_timer_in", {}, USER))
            pause = began + (n + 1) / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        deadline = time.monotonic() + 300
        while pending(engine) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop(procs)
    started = {c.id: c.started_at for c in cases}
    fired = [e for e in engine.audit_events(type=AuditType.TIMER_FIRED) if e.instance_id in started]
    delays = sorted((e.occurred_at - (started[e.instance_id] + timedelta(seconds=2))).total_seconds() for e in fired)
    return statistics.median(delays), delays[int(len(delays) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--latency-timers", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("OPSFLOW_DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
        if url.startswith("postgresql"):
            from engine_bench import reset_pg

            reset_pg(url)
        engine = Engine(Settings(database_url=url, forms_dir=str(HERE / "forms")))
        engine.migrate()
        engine.definitions.deploy({"timers.bpmn": (HERE / "timers.bpmn").read_bytes()}, USER)
        one = throughput(engine, url, args.timers, 1)
        print(f"1 worker: {one:.0f} timers fired/s ({args.timers} timers)")
        two = throughput(engine, url, args.timers, 2)
        print(f"2 workers: {two:.0f} timers fired/s ({args.timers} timers)")
        print(f"2 workers / 1 worker = {two / one:.2f} (target >= 1.6)")
        rate = two / 2
        median, p99 = latency(engine, url, args.latency_timers, rate)
        print(f"delay due -> fired with 2 workers at {rate:.0f} timers/s: median {median:.2f} s, p99 {p99:.2f} s "
              "(target p99 < 2 s)")
        fired = Counter((e.instance_id, e.data["element_id"]) for e in engine.audit_events(type=AuditType.TIMER_FIRED))
        once = set(fired.values()) == {1}
        print(f"timers fired: {len(fired)}, each exactly once: {once}")
        engine.close()


if __name__ == "__main__":
    main()
