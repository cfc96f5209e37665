"""Every read the engine issues can be answered through an index on PostgreSQL (EXPLAIN, sequential scans off).

The same use cases as tests/unit/test_query_plans.py. With `enable_seqscan = off` the planner still picks a
sequential scan when no index fits, and a full index scan (no Index Cond) when an index only gives order:
both fail here for the tables that grow with use, unless the case lists the table as read in full.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.core import Engine
from tests.unit.test_query_plans import CASES, GROWING, explained, ids_of, populate, recorded

pytestmark = pytest.mark.pg

_SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"}


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def pg_problems(plan: dict[str, Any], scans: tuple[str, ...]) -> list[str]:
    """Accesses of growing tables that no index condition narrows (a partial index's predicate counts)."""
    bad = []
    for node in _nodes(plan):
        table, kind = node.get("Relation Name"), node["Node Type"]
        if kind not in _SCANS or table not in GROWING or table in scans:
            continue
        if kind == "Seq Scan":
            bad.append(f"Seq Scan on {table}")
        elif kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in node \
                and not node.get("Index Name", "").endswith("_pending"):
            bad.append(f"{kind} using {node.get('Index Name')} on {table} without a condition")
    return bad


def test_every_statement_of_every_use_case_reads_through_an_index(pg_url: str, make_engine,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    engine: Engine = make_engine(pg_url, verify_state_writes=False, smtp_host="smtp.invalid")
    populate(engine)
    ids = ids_of(engine)
    report = []
    explain = engine.db.write_engine.raw_connection()
    try:
        cursor = explain.driver_connection.cursor()
        cursor.execute("SET enable_seqscan = off")
        for case in CASES:
            with recorded(engine, monkeypatch) as seen:
                case.run(engine, ids)
            statements = explained(seen)
            assert statements, f"{case.name}: no statement"
            for sql, params in statements:
                cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
                plan = cursor.fetchone()[0][0]["Plan"]
                bad = pg_problems(plan, case.scans)
                if bad:
                    report.append(f"{case.name}: {' '.join(sql.split())[:160]}\n  -> {bad}")
        explain.driver_connection.rollback()
    finally:
        explain.close()
    assert not report, "reads without an index:\n" + "\n".join(report)
