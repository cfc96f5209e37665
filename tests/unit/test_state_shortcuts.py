"""The shortcuts in engine.runtime.state give exactly what the registry's own walk gives."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

import engine.runtime.state as state
from engine import records
from engine.core import Engine
from tests.conftest import ALICE, OWNER, fixture_files

FLAT: list[dict[str, Any]] = [
    {},
    {"choice": "a"},
    {"s": "中文 \"q\"\n", "i": 3, "f": 2.5, "t": True, "n": None, "big": 10**30},
    {"typename": "not a registered type", "value": 1},  # plain data that merely looks like a tagged object
]
NOT_FLAT: list[dict[str, Any]] = [
    {"when": date(2030, 1, 2)},
    {"amount": Decimal("12.50"), "x": 1},
    {"at": datetime(2030, 1, 2, 3, 4, 5)},
    {"tags": [1, 2.5, True, None], "nested": {"d": date(2030, 1, 2)}},
    {"f": print, "kept": "yes"},  # callables are dropped by the registry's clean
    {"id": uuid4()},
]


def registry_convert(data: dict[str, Any]) -> Any:
    return state.REGISTRY.convert(state.REGISTRY.clean(data))


@pytest.mark.parametrize("data", FLAT + NOT_FLAT)
def test_convert_data_and_task_data_text_match_the_registry(data: dict[str, Any]) -> None:
    converted = state.convert_data(data)
    assert converted == registry_convert(data)
    assert converted is not data  # a copy: the case row must not share the live workflow's dict
    assert state._data_json(data) == state.dump_json(registry_convert(data))


@pytest.mark.parametrize("data", FLAT + NOT_FLAT[:4])
def test_restore_data_matches_the_registry(data: dict[str, Any]) -> None:
    stored = registry_convert(data)
    if "typename" in stored:  # a dict carrying an unregistered typename is not restorable; skip it
        return
    assert state.restore_data(stored) == state.REGISTRY.restore(stored)


def test_flat_needs_exact_scalar_types() -> None:
    class Text(str):
        pass

    assert state._flat({"a": "x", "b": 1, "c": 1.5, "d": False, "e": None})
    assert not state._flat({"a": Text("x")})
    assert not state._flat({"a": [1]})
    assert not state._flat({"a": {"b": 1}})


def test_id_text_is_str_of_the_id() -> None:
    ids = [uuid4() for _ in range(5)]
    assert [state.id_text(u) for u in ids] == [str(u) for u in ids]
    assert [state.id_text(u) for u in ids] == [str(u) for u in ids]  # from the cache


def test_diff_hands_over_the_tasks_of_the_rows_it_wrote(engine: Engine) -> None:
    engine.definitions.deploy(fixture_files("approval.bpmn"), OWNER)
    case = engine.instances.start("approval", {"title": "A request", "amount": Decimal("12.50"), "when": date(2030, 1, 2),
                                               "publish_by": "2030-01-02T03:04:05Z"}, ALICE)
    with engine.db.reading() as session:
        row = records.read_case(engine.db.fast, session, case.id)
    live = engine.store.cache.take(case.id, row.version)
    assert live is not None
    engine.runtime.complete_user_task(live.workflow, case.open_tasks[0].id, {"decision": "approve", "comment": "ok"})
    changes = state.diff(live.workflow, live.snapshot)
    assert changes.inserts or changes.updates
    assert [str(t.id) for t in changes.written] == [r.task_id for r in changes.inserts + changes.updates]
