"""Concurrent writers on PostgreSQL: the case row lock (SELECT ... FOR UPDATE) lets exactly one step win."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from engine.views import AuditType
from tests.conftest import ADMIN, CAROL, DAVE
from tests.pg import assert_one_winner_each, prepare_race, race_in_processes, race_in_threads

pytestmark = pytest.mark.pg


def test_two_processes_completing_the_same_task(pg_url: str, make_engine) -> None:
    engine = make_engine(pg_url, verify_state_writes=False)
    rounds = prepare_race(engine, 10)
    assert_one_winner_each(engine, rounds, race_in_processes(pg_url, [CAROL, DAVE], rounds))


@pytest.mark.parametrize("shared", [True, False], ids=["one-engine", "two-engines"])
def test_two_threads_completing_the_same_task(pg_url: str, make_engine, shared: bool) -> None:
    engine = make_engine(pg_url, verify_state_writes=False)
    rounds = prepare_race(engine, 10)
    engines = [engine, engine] if shared else [engine, make_engine(pg_url, verify_state_writes=False)]
    assert_one_winner_each(engine, rounds, race_in_threads(engines, [CAROL, DAVE], rounds))


def test_two_threads_claiming_the_same_task(pg_url: str, make_engine) -> None:
    """Claims race too: one claims, the other is told it is already claimed."""
    engine = make_engine(pg_url, verify_state_writes=False)
    rounds = prepare_race(engine, 3)
    outcomes: dict[str, list[str]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def claim(actor) -> None:
        barrier.wait(timeout=30)
        for _, task_id in rounds:
            try:
                engine.tasks.claim(task_id, actor)
                outcomes.setdefault(task_id, []).append(actor.username)
            except Exception as exc:
                outcomes.setdefault(task_id, []).append(type(exc).__name__)
                if type(exc).__name__ != "Conflict":
                    errors.append(exc)

    threads = [threading.Thread(target=claim, args=(a,)) for a in (CAROL, DAVE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    for _, task_id in rounds:
        winners = [o for o in outcomes[task_id] if o != "Conflict"]
        assert len(outcomes[task_id]) == 2 and len(winners) == 1 and winners[0] in ("carol", "dave")
        claims = [e for e in engine.audit_events(type=AuditType.TASK_CLAIMED) if e.task_id == task_id]
        assert [e.actor for e in claims] == winners


def _waiting_on_a_lock(probe, needle: str) -> bool:
    with probe.connect() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE :q"),
            {"q": f"%{needle}%"}).scalar_one())


def test_a_step_waits_for_the_case_row_lock(pg_url: str, make_engine) -> None:
    engine = make_engine(pg_url, verify_state_writes=False)
    ((instance_id, task_id),) = prepare_race(engine, 1)
    holder = create_engine(pg_url)
    probe = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    result: list[object] = []
    try:
        with holder.connect() as conn:
            trans = conn.begin()
            conn.execute(text("SELECT id FROM process_instance WHERE id = :id FOR UPDATE"), {"id": instance_id})
            step = threading.Thread(target=lambda: result.append(engine.tasks.complete(task_id, {}, DAVE)))
            step.start()
            deadline = time.monotonic() + 20
            while not _waiting_on_a_lock(probe, "FOR UPDATE") and time.monotonic() < deadline:
                step.join(timeout=0.05)
            blocked = _waiting_on_a_lock(probe, "FOR UPDATE")
            assert blocked and step.is_alive() and result == []  # the step waits for the row lock
            trans.rollback()
        step.join(timeout=30)
        assert not step.is_alive() and len(result) == 1
        assert engine.instances.get(instance_id, ADMIN).data["count"] == 1
    finally:
        holder.dispose()
        probe.dispose()


def test_a_completion_racing_a_claim_sees_the_claim(pg_url: str, make_engine) -> None:
    """Carol's claim is in flight (its row written, not yet committed) when Dave completes the task: the
    completion waits for it and is then refused, instead of completing over her claim from a stale read."""
    engine = make_engine(pg_url, verify_state_writes=False)
    ((_case_id, task_id),) = prepare_race(engine, 1)
    holder = create_engine(pg_url)
    probe = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    outcome: list[object] = []

    def complete() -> None:
        try:
            outcome.append(engine.tasks.complete(task_id, {}, DAVE))
        except Exception as exc:
            outcome.append(exc)

    try:
        with holder.connect() as conn:
            trans = conn.begin()
            conn.execute(text("UPDATE human_task SET assignee = 'carol', state = 'claimed' WHERE id = :id"),
                         {"id": task_id})
            step = threading.Thread(target=complete)
            step.start()
            deadline = time.monotonic() + 20
            while not _waiting_on_a_lock(probe, "human_task") and step.is_alive() and time.monotonic() < deadline:
                step.join(timeout=0.05)
            trans.commit()
        step.join(timeout=30)
        (result,) = outcome
        assert type(result).__name__ == "PermissionDenied" and "assigned to carol" in str(result)
        task, _ = engine.tasks.get(task_id, ADMIN)
        assert (task.state, task.assignee) == ("claimed", "carol")
    finally:
        holder.dispose()
        probe.dispose()
