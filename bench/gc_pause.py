"""Garbage-collection pauses of a serving process, with and without `run.freeze_startup_heap()`.

Run:  .venv/bin/python bench/gc_pause.py [--steps N]

Each variant runs in its own process: the app is built, the bench flow deployed and a few of its cases run
(start-up, as `run.py serve` has done it before it serves), then more cases are run through the engine, and
a full collection (`gc.collect()`) is timed. A full collection walks every tracked object; without the freeze
that includes all of start-up's (modules, the app, SQLAlchemy's metadata, the parsed definition), and CPython
runs one whenever enough objects have outlived the younger generations, in the middle of some request.
Prints one line per variant: tracked objects, median full-collection pause, and the automatic full
collections the steps triggered.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _variant(freeze: bool, steps: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import engine_bench as bench

    from api import create_app
    from engine.settings import Settings
    from run import freeze_startup_heap

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(database_url=f"sqlite:///{tmp}/gc.db", forms_dir=str(bench.HERE / "forms"),
                                  secret_key="bench"))
        engine = app.extensions["opsflow"].engine
        engine.migrate()
        engine.definitions.deploy({"flow.bpmn": (bench.HERE / "flow.bpmn").read_bytes()}, bench.USER)
        bench.engine_instances_per_second(engine, 20)  # the definition parsed, the caches warm
        if freeze:
            freeze_startup_heap()
        full_before = gc.get_stats()[2]["collections"]
        bench.engine_instances_per_second(engine, steps // 3)
        automatic = gc.get_stats()[2]["collections"] - full_before
        pauses = []
        for _ in range(5):
            started = time.perf_counter()
            gc.collect()
            pauses.append(time.perf_counter() - started)
        tracked = len(gc.get_objects())
        engine.close()
    return {"tracked": tracked, "pause_ms": statistics.median(pauses) * 1000, "automatic": automatic}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--variant", choices=["plain", "frozen"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(_variant(args.variant == "frozen", args.steps)))
        return
    for variant in ("plain", "frozen"):
        out = subprocess.run([sys.executable, __file__, "--variant", variant, "--steps", str(args.steps)],
                             check=True, capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        label = "start-up heap frozen" if variant == "frozen" else "nothing frozen"
        print(f"{label}: {result['tracked']:.0f} objects tracked after {args.steps} steps, full collection "
              f"{result['pause_ms']:.1f} ms (median of 5); {result['automatic']:.0f} automatic full collections "
              "during the steps")


if __name__ == "__main__":
    main()
