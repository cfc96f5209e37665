"""Engine benchmark: plain SpiffWorkflow in memory vs. opsflow's services on SQLite (and PostgreSQL).

Run:  .venv/bin/python bench/engine_bench.py [--instances N] [--repeats N] [--window N]
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
      One loop per checkpoint is taken to its age first, then all are stepped in alternation (see aged_rounds).
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


class PlainLoop:
    """A loop case in memory (the engine's SpiffWorkflow); `step` times one round: complete the known ready
    task and run the engine (finding it is not timed, as the persisted path looks it up by id)."""

    def __init__(self) -> None:
        spec, subs = spiff_spec("loop.bpmn", "bench_loop")
        self.workflow = BpmnWorkflow(spec, subs)
        self.workflow.do_engine_steps()

    def step(self) -> float:
        task = ready_user_task(self.workflow)
        t0 = time.perf_counter()
        task.data.update(note="again")
        task.run()
        self.workflow.do_engine_steps()
        return time.perf_counter() - t0


class PersistedLoop:
    """The same loop through the engine; `step` times one whole persisted round and, inside it, the call
    that runs SpiffWorkflow on the same workflow."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.case = engine.instances.start("bench_loop", {}, USER)
        runtime = engine.runtime
        original = runtime.complete_user_task
        if not hasattr(original, "timings"):

            def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
                t0 = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    timed.timings.append(time.perf_counter() - t0)  # type: ignore[attr-defined]

            timed.timings = []  # type: ignore[attr-defined]
            runtime.complete_user_task = timed  # type: ignore[method-assign]
        self.timings: list[float] = runtime.complete_user_task.timings  # type: ignore[attr-defined]

    def step(self) -> tuple[float, float]:
        t0 = time.perf_counter()
        self.case = self.engine.tasks.complete(self.case.open_tasks[0].id, {"note": "again"}, USER)
        return time.perf_counter() - t0, self.timings[-1]


def aged_rounds(engine: Engine, checkpoints: tuple[int, ...], window: int) -> dict[int, dict[str, float]]:
    """Rounds around each checkpoint, of loops of different ages measured in alternation.

    One loop (in memory and persisted) per checkpoint is first taken, untimed, to just before its
    checkpoint; then every loop is stepped in turn, `window` times. Round 10 and round 500 are so measured
    milliseconds apart, and a slow spell of a shared machine hits them alike. Medians over the window."""
    loops = {k: (PlainLoop(), PersistedLoop(engine)) for k in checkpoints}
    for k, (plain, persisted) in loops.items():
        for _ in range(max(0, k - 1 - window // 2)):
            plain.step()
            persisted.step()
    samples: dict[int, list[tuple[float, float, float]]] = {k: [] for k in checkpoints}
    for _ in range(window):
        for k, (plain, persisted) in loops.items():
            memory = plain.step()
            total, spiff = persisted.step()
            samples[k].append((memory, total, spiff))
    return {
        k: {
            "memory": statistics.median(m for m, _, _ in rows),
            "persisted": statistics.median(t for _, t, _ in rows),
            "spiff": statistics.median(s for _, _, s in rows),
            "platform": statistics.median(t - s for _, t, s in rows),
        }
        for k, rows in samples.items()
    }


def reset_pg(url: str) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=450)
    parser.add_argument("--window", type=int, default=21, help="rounds timed around each checkpoint in (d)")
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
        paired = sorted(rb / ra for ra, rb in zip(runs["a"], runs["b"], strict=True))
        print(f"b/a chunk by chunk (each (b) chunk over the (a) chunk just before it): median "
              f"{statistics.median(paired):.2f}, range {paired[0]:.2f}-{paired[-1]:.2f} (the machine's noise)")
        if c is not None:
            print(f"c/a = {c / a:.2f}")
        if pg is not None:
            pg.close()

        gc.collect()
        rounds = aged_rounds(sqlite, CHECKPOINTS, args.window)
        for k in CHECKPOINTS:
            r = rounds[k]
            print(f"(d) round {k}: in memory {r['memory'] * 1000:.2f} ms, persisted {r['persisted'] * 1000:.2f} ms, "
                  f"overhead {(r['persisted'] - r['memory']) * 1000:.2f} ms; same step split: SpiffWorkflow "
                  f"{r['spiff'] * 1000:.2f} ms, platform {r['platform'] * 1000:.2f} ms")
        first, last = rounds[CHECKPOINTS[0]], rounds[CHECKPOINTS[-1]]
        ratio = (last["persisted"] - last["memory"]) / (first["persisted"] - first["memory"])
        print(f"(d) overhead@{CHECKPOINTS[-1]} / overhead@{CHECKPOINTS[0]} = {ratio:.2f} (target <= 2.0)")
        print(f"(d) same-step platform time @{CHECKPOINTS[-1]} / @{CHECKPOINTS[0]} = "
              f"{last['platform'] / first['platform']:.2f}")
        sqlite.close()


if __name__ == "__main__":
    main()
