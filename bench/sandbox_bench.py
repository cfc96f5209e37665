"""What the script sandbox costs: the foundation benchmark's flow (b) with the sandboxed script engine and with
SpiffWorkflow's unrestricted default engine, measured alternately in one run, plus the per-call cost of evaluate.

Run:  .venv/bin/python bench/sandbox_bench.py [--instances N] [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_bench import engine_instances_per_second, make_engine
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

import engine.runtime.workflow as runtime_module
from engine.sandbox import SandboxedScriptEngine, assert_sandboxed


class _Task:
    def __init__(self) -> None:
        self.data = {"choice": "a", "amount": 1200}
        self.task_spec = type("Spec", (), {"bpmn_id": "gw", "name": "gw"})()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    task = _Task()
    for label, script_engine in (("default", PythonScriptEngine()), ("sandbox", SandboxedScriptEngine())):
        per_call = min(timeit.repeat(lambda se=script_engine: se.evaluate(task, 'choice == "a"'), number=2000,
                                     repeat=5)) / 2000
        print(f"evaluate('choice == \"a\"') with the {label} engine: {per_call * 1e6:.1f} µs/call")

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        sandboxed = engine.runtime.script_engine
        results: dict[str, list[float]] = {"sandbox": [], "default": []}
        for repeat in range(args.repeats):
            order = ("sandbox", "default") if repeat % 2 == 0 else ("default", "sandbox")
            for label in order:
                engine.cache.clear()
                if label == "default":
                    engine.runtime.script_engine = PythonScriptEngine()
                    runtime_module.assert_sandboxed = lambda workflow: None  # type: ignore[assignment]
                else:
                    engine.runtime.script_engine = sandboxed
                    runtime_module.assert_sandboxed = assert_sandboxed
                results[label].append(engine_instances_per_second(engine, args.instances))
        runtime_module.assert_sandboxed = assert_sandboxed
        engine.runtime.script_engine = sandboxed
        sandbox, default = statistics.median(results["sandbox"]), statistics.median(results["default"])
        print(f"(b) engine services, SQLite, default script engine: {default:.0f} instances/s")
        print(f"(b) engine services, SQLite, sandboxed script engine: {sandbox:.0f} instances/s")
        print(f"sandbox / default = {sandbox / default:.2f}")
        engine.close()


if __name__ == "__main__":
    main()
