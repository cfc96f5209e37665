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
