"""Many due timers, two worker processes on PostgreSQL: every timer fires exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.db.models import Job
from engine.views import AuditType
from tests.conftest import DAVE, FIXTURES, OWNER, fixture_files

pytestmark = pytest.mark.pg
ROOT = Path(__file__).resolve().parents[2]


def test_two_workers_fire_500_timers_exactly_once(pg_url: str, make_engine) -> None:
    engine = make_engine(pg_url, verify_state_writes=False)
    engine.definitions.deploy(fixture_files("sla_timers.bpmn"), OWNER)
    cases = [engine.instances.start("sla_timers", {}, DAVE).id for _ in range(250)]  # two timers each
    with engine.db.reading() as session:
        assert session.execute(select(func.count()).select_from(Job)).scalar_one() == 500
    time.sleep(2.1)
    env = {**os.environ, "OPSFLOW_DATABASE_URL": pg_url, "OPSFLOW_FORMS_DIR": str(FIXTURES / "forms")}
    workers = [subprocess.Popen([sys.executable, "run.py", "worker", "--name", f"w{n}", "--poll", "0.2"], cwd=ROOT,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n in (1, 2)]
    try:
        deadline = time.monotonic() + 240
        while True:
            with engine.db.reading() as session:
                if session.execute(select(func.count()).select_from(Job)).scalar_one() == 0:
                    break
            assert time.monotonic() < deadline, "the workers did not fire every timer"
            time.sleep(0.5)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            assert worker.wait(timeout=60) == 0
    fired = engine.audit_events(type=AuditType.TIMER_FIRED)
    per_timer = Counter((e.instance_id, e.data["element_id"]) for e in fired)
    assert len(per_timer) == 500 and set(per_timer.values()) == {1}
    assert {instance for instance, _ in per_timer} == set(cases)
    assert {e.actor for e in fired} == {"system"}
    by_worker = Counter(e.data["worker"] for e in fired)
    assert set(by_worker) == {"w1", "w2"} and sum(by_worker.values()) == 500  # both shared the work
    assert engine.verify_audit().ok
