"""`run.py worker` fires due timers from another process and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.views import AuditType
from tests.conftest import DAVE, FIXTURES, OWNER, fixture_files

ROOT = Path(__file__).resolve().parents[2]


def test_worker_process_fires_timers_and_stops_on_sigterm(any_db_url: str, make_engine) -> None:
    engine = make_engine(any_db_url)
    engine.definitions.deploy(fixture_files("sla_timers.bpmn"), OWNER)
    case = engine.instances.start("sla_timers", {}, DAVE)
    env = {**os.environ, "OPSFLOW_DATABASE_URL": any_db_url, "OPSFLOW_FORMS_DIR": str(FIXTURES / "forms")}
    worker = subprocess.Popen([sys.executable, "run.py", "worker", "--name", "w-test", "--poll", "0.2"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while len(engine.audit_events(type=AuditType.TIMER_FIRED, instance_id=case.id)) < 2:
            assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
            assert time.monotonic() < deadline, "the worker did not fire the timers"
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=20)
    assert worker.returncode == 0, output
    assert "stopping after the job in hand" in output
    fired = engine.audit_events(type=AuditType.TIMER_FIRED, instance_id=case.id)
    assert [e.data["element_id"] for e in fired] == ["warn", "breach"]


def test_a_worker_killed_mid_job_loses_nothing_and_fires_nothing_twice(any_db_url: str, make_engine) -> None:
    from sqlalchemy import select

    from engine.db.models import HumanTask, Job

    engine = make_engine(any_db_url, script_cpu_seconds=60, verify_state_writes=False)
    engine.definitions.deploy(fixture_files("slow_after_timer.bpmn"), OWNER)
    # the timer is due after 1 s; firing it runs the script in the same step: long enough (1.5-4 s per
    # 4 million rounds on this project's machines) that the worker is surely still inside it when killed
    case = engine.instances.start("slow_after_timer", {"rounds": 12_000_000}, DAVE)
    time.sleep(1.1)
    env = {**os.environ, "OPSFLOW_DATABASE_URL": any_db_url, "OPSFLOW_FORMS_DIR": str(FIXTURES / "forms"),
           "OPSFLOW_JOB_LEASE_SECONDS": "2", "OPSFLOW_SCRIPT_CPU_SECONDS": "60"}
    doomed = subprocess.Popen([sys.executable, "run.py", "worker", "--name", "doomed", "--poll", "0.1"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:  # wait until it has claimed the job and is inside the step
            with engine.db.reading() as session:
                if session.execute(select(Job.locked_by)).scalar_one_or_none() == "doomed":
                    break
            assert time.monotonic() < deadline, "the worker never claimed the job"
            time.sleep(0.05)
        time.sleep(1.0)
    finally:
        doomed.kill()  # SIGKILL: no cleanup, its transaction dies with it
        doomed.wait()
    assert engine.audit_events(type=AuditType.TIMER_FIRED) == []  # its step never committed

    deadline = time.monotonic() + 30
    while not engine.audit_events(type=AuditType.TIMER_FIRED):
        assert time.monotonic() < deadline, "no other worker took the job over"
        engine.jobs.run_due("survivor")  # claimable again once the dead worker's 2 s lease ran out
        time.sleep(0.2)
    assert len(engine.audit_events(type=AuditType.TIMER_FIRED, instance_id=case.id)) == 1
    with engine.db.reading() as session:
        reviews = session.execute(select(HumanTask.element_id).where(HumanTask.instance_id == case.id)).scalars()
        assert list(reviews) == ["review"]
        assert session.execute(select(Job)).first() is None
