"""Engine benchmark: plain SpiffWorkflow in memory vs. opsflow's services on SQLite (and PostgreSQL).

Run:  .venv/bin/python bench/engine_bench.py [--instances N] [--rounds N]
      OPSFLOW_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/opsflow_bench adds figure (c)
           (the database is emptied first).
Prints one line per figure; every figure comes from this one run.

  (a) plain SpiffWorkflow as released, in memory: instances/s for start -> user task -> gateway -> user task -> end
      (opsflow's patches to SpiffWorkflow, engine.runtime.patches, are taken off while it runs)
  (a') the same in memory with opsflow's patches on, for reference
  (b) the same through the engine's services, SQLite file in WAL mode
  (c) the same on PostgreSQL, when OPSFLOW_DATABASE_URL is set
  b/a, c/a  (target b/a >= 0.30)
  (d) a case looping over one user task: time to complete round 10, 100, 500, in memory and persisted,
      and the platform's overhead (persisted minus in-memory); target overhead@500 <= 2 x overhead@10.
      In memory here means the engine's SpiffWorkflow (patched): released SpiffWorkflow stops seeing the
      open task of such a loop after 333 rounds, so it has no round 500 to compare with.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from engine.core import Engine  # noqa: E402
from engine.runtime import patches  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.views import Actor, Role  # noqa: E402

HERE = Path(__file__).resolve().parent
USER = Actor("bencher", groups=frozenset({"bench"}), roles=frozenset({Role.STAFF, Role.PROCESS_OWNER}))
CHECKPOINTS = (10, 100, 500)


def spiff_spec(name: str, process: str):  # type: ignore[no-untyped-def]
    parser = CamundaParser()
    parser.add_bpmn_file(str(HERE / name))
    return parser.get_spec(process), parser.get_subprocess_specs(process)


def ready_user_task(workflow: BpmnWorkflow):  # type: ignore[no-untyped-def]
    return next(t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.manual)


def plain_instances_per_second(n: int, *, patched: bool = False) -> float:
    with contextlib.nullcontext() if patched else patches.unpatched():
        return _plain_instances_per_second(n)


def _plain_instances_per_second(n: int) -> float:
    spec, subs = spiff_spec("flow.bpmn", "bench_flow")
    gc.collect()
    started = time.perf_counter()
    for _ in range(n):
        workflow = BpmnWorkflow(spec, subs)
        workflow.do_engine_steps()
        task = ready_user_task(workflow)
        task.data.update(choice="a")
        task.run()
        workflow.do_engine_steps()
        task = ready_user_task(workflow)
        task.data.update(note="done")
        task.run()
        workflow.do_engine_steps()
        assert workflow.is_completed()
    return n / (time.perf_counter() - started)


def make_engine(url: str) -> Engine:
    engine = Engine(Settings(database_url=url, forms_dir=str(HERE / "forms")))
    engine.migrate()
    files = {"flow.bpmn": (HERE / "flow.bpmn").read_bytes(), "loop.bpmn": (HERE / "loop.bpmn").read_bytes()}
    engine.definitions.deploy(files, USER)
    return engine


def engine_instances_per_second(engine: Engine, n: int) -> float:
    engine.instances.start("bench_flow", {}, USER)  # warm the spec cache
    gc.collect()
    started = time.perf_counter()
    for _ in range(n):
        case = engine.instances.start("bench_flow", {}, USER)
        case = engine.tasks.complete(case.open_tasks[0].id, {"choice": "a"}, USER)
        case = engine.tasks.complete(case.open_tasks[0].id, {"note": "done"}, USER)
        assert case.state == "completed"
    return n / (time.perf_counter() - started)


def plain_round_times(rounds: int) -> list[float]:
    """The same step in memory: complete the known ready task and run the engine (finding it is not timed,
    as the persisted path looks it up by id)."""
    spec, subs = spiff_spec("loop.bpmn", "bench_loop")
    workflow = BpmnWorkflow(spec, subs)
    workflow.do_engine_steps()
    times = []
    for _ in range(rounds):
        task = ready_user_task(workflow)
        t0 = time.perf_counter()
        task.data.update(note="again")
        task.run()
        workflow.do_engine_steps()
        times.append(time.perf_counter() - t0)
    return times


def engine_round_times(engine: Engine, rounds: int) -> tuple[list[float], list[float]]:
    """Per round: the whole persisted step, and the part of it spent in SpiffWorkflow on the same workflow."""
    case = engine.instances.start("bench_loop", {}, USER)
    runtime = engine.runtime
    spiff: list[float] = []
    original = runtime.complete_user_task

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spiff.append(time.perf_counter() - t0)

    runtime.complete_user_task = timed  # type: ignore[method-assign]
    times = []
    try:
        for _ in range(rounds):
            t0 = time.perf_counter()
            case = engine.tasks.complete(case.open_tasks[0].id, {"note": "again"}, USER)
            times.append(time.perf_counter() - t0)
    finally:
        runtime.complete_user_task = original  # type: ignore[method-assign]
    return times, spiff


def around(times: list[float], round_no: int, width: int = 5) -> float:
    """Median of the rounds around `round_no` (1-based), to smooth a noisy machine."""
    lo = max(0, round_no - 1 - width // 2)
    return statistics.median(times[lo : lo + width])


def reset_pg(url: str) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=450)
    parser.add_argument("--rounds", type=int, default=max(CHECKPOINTS) + 3)
    parser.add_argument("--repeats", type=int, default=9, help="alternating chunks for (a)/(b)/(c)")
    args = parser.parse_args()

    # The machine is shared and noisy: measure (a), (b), (c) in alternating chunks and report medians.
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = make_engine(f"sqlite:///{tmp}/bench.db")
        pg_url = os.environ.get("OPSFLOW_DATABASE_URL")
        pg = None
        if pg_url:
            reset_pg(pg_url)
            pg = make_engine(pg_url)
        chunk = max(20, args.instances // args.repeats)
        runs: dict[str, list[float]] = {"a": [], "a'": [], "b": [], "c": []}
        for _ in range(args.repeats):
            runs["a"].append(plain_instances_per_second(chunk))
            runs["a'"].append(plain_instances_per_second(chunk, patched=True))
            runs["b"].append(engine_instances_per_second(sqlite, chunk))
            if pg is not None:
                runs["c"].append(engine_instances_per_second(pg, chunk))
        a, a_patched, b = (statistics.median(runs[k]) for k in ("a", "a'", "b"))
        print(f"(a) plain SpiffWorkflow in memory: {a:.0f} instances/s")
        print(f"(a') SpiffWorkflow with opsflow's patches, in memory: {a_patched:.0f} instances/s")
        print(f"(b) engine services, SQLite (file, WAL): {b:.0f} instances/s")
        c = statistics.median(runs["c"]) if runs["c"] else None
        if c is not None:
            print(f"(c) engine services, PostgreSQL: {c:.0f} instances/s")
        else:
            print("(c) engine services, PostgreSQL: not measured (set OPSFLOW_DATABASE_URL)")
        print(f"b/a = {b / a:.2f} (target >= 0.30); b/a' = {b / a_patched:.2f}")
        if c is not None:
            print(f"c/a = {c / a:.2f}")
        if pg is not None:
            pg.close()

        gc.collect()
        memory = plain_round_times(args.rounds)
        gc.collect()
        persisted, spiff_part = engine_round_times(sqlite, args.rounds)
        overheads, same_step = {}, {}
        for k in CHECKPOINTS:
            m, p, s_ = around(memory, k), around(persisted, k), around(spiff_part, k)
            overheads[k] = p - m
            same_step[k] = around([t - e for t, e in zip(persisted, spiff_part, strict=True)], k)
            print(f"(d) round {k}: in memory {m * 1000:.2f} ms, persisted {p * 1000:.2f} ms, "
                  f"overhead {(p - m) * 1000:.2f} ms; same step split: SpiffWorkflow {s_ * 1000:.2f} ms, "
                  f"platform {same_step[k] * 1000:.2f} ms")
        first, last = CHECKPOINTS[0], CHECKPOINTS[-1]
        print(f"(d) overhead@{last} / overhead@{first} = {overheads[last] / overheads[first]:.2f} (target <= 2.0)")
        print(f"(d) same-step platform time @{last} / @{first} = {same_step[last] / same_step[first]:.2f}")
        sqlite.close()


if __name__ == "__main__":
    main()
