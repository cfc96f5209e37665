"""PostgreSQL tier; also holds the race harness the SQLite concurrency tests share."""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.core import Engine
from engine.db.models import ProcessDefinition, ProcessInstance
from engine.settings import Settings
from engine.views import Actor, AuditType
from tests.conftest import ALICE, OWNER, fixture_files

FORMS_DIR = str(Path(__file__).resolve().parent.parent / "fixtures" / "forms")
Outcomes = dict[str, list[str]]  # task id -> sorted outcome of each racer ("ok" or an exception class name)


def warm_up(engine: Engine, instance_id: str) -> None:
    """Compile the case's spec before the race, so both racers start from the same point."""
    with engine.db.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        definition = session.get(ProcessDefinition, row.definition_id)
        assert definition is not None
        engine.store.compiled_for(session, definition)


def complete_each(engine: Engine, actor: Actor, rounds: list[tuple[str, str]], wait: Callable[[], Any],
                  report: Callable[[tuple[str, str]], None]) -> None:
    """For each (case, task): wait for the other racer, then complete the task; report the outcome."""
    if rounds:
        warm_up(engine, rounds[0][0])
    for _, task_id in rounds:
        wait()
        try:
            engine.tasks.complete(task_id, {}, actor)
            report((task_id, "ok"))
        except Exception as exc:  # the class name is what the test asserts on
            report((task_id, type(exc).__name__))


def _process_racer(url: str, actor: Actor, rounds: list[tuple[str, str]], barrier: Any, results: Any) -> None:
    engine = Engine(Settings(database_url=url, forms_dir=FORMS_DIR))
    try:
        complete_each(engine, actor, rounds, lambda: barrier.wait(timeout=60), results.put)
    finally:
        engine.close()


def _collect(results: Any, expected: int, racers_failed: Callable[[], bool]) -> Outcomes:
    """Every racer's outcomes; fails fast when a racer died without reporting."""
    outcomes: Outcomes = {}
    received, deadline = 0, time.monotonic() + 120
    while received < expected:
        try:
            task_id, outcome = results.get(timeout=1)
        except queue.Empty:
            if racers_failed() or time.monotonic() > deadline:
                raise AssertionError(f"a racer stopped without reporting; got {outcomes}") from None
            continue
        outcomes.setdefault(task_id, []).append(outcome)
        received += 1
    return {task_id: sorted(found) for task_id, found in outcomes.items()}


def race_in_processes(url: str, actors: list[Actor], rounds: list[tuple[str, str]]) -> Outcomes:
    """Each actor in its own OS process (spawned, own Engine) completes every task at the same moment."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(actors)), ctx.Queue()
    processes = [ctx.Process(target=_process_racer, args=(url, a, rounds, barrier, results)) for a in actors]
    for process in processes:
        process.start()

    def failed() -> bool:
        return any(p.exitcode for p in processes) or not any(p.is_alive() for p in processes)

    try:
        return _collect(results, len(actors) * len(rounds), failed)
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()


def race_in_threads(engines: list[Engine], actors: list[Actor], rounds: list[tuple[str, str]]) -> Outcomes:
    """Like race_in_processes, with threads of this process (engines may be one shared Engine)."""
    barrier: threading.Barrier = threading.Barrier(len(actors))
    results: queue.Queue[tuple[str, str]] = queue.Queue()
    threads = [
        threading.Thread(target=complete_each, args=(e, a, rounds, lambda: barrier.wait(timeout=60), results.put))
        for e, a in zip(engines, actors, strict=True)
    ]
    for thread in threads:
        thread.start()
    try:
        return _collect(results, len(actors) * len(rounds), lambda: not any(t.is_alive() for t in threads))
    finally:
        for thread in threads:
            thread.join(timeout=60)


def prepare_race(engine: Engine, cases: int) -> list[tuple[str, str]]:
    """Fresh loop cases, each with one open task to race for: [(instance id, task id)]."""
    engine.definitions.deploy(fixture_files("loop.bpmn"), OWNER)
    started = [engine.instances.start("loop", {"limit": 2}, ALICE) for _ in range(cases)]
    return [(c.id, c.open_tasks[0].id) for c in started]


def assert_one_winner_each(engine: Engine, rounds: list[tuple[str, str]], outcomes: Outcomes) -> None:
    """Every race had exactly one winner and one Conflict, and one task_completed event."""
    assert {task_id: outcomes.get(task_id) for _, task_id in rounds} == {
        task_id: ["Conflict", "ok"] for _, task_id in rounds}
    for instance_id, task_id in rounds:
        done = engine.audit_events(type=AuditType.TASK_COMPLETED, instance_id=instance_id)
        assert [e.task_id for e in done] == [task_id]
