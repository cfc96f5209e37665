"""Ordinary diagram code keeps working in the sandbox, with TaskDataEnvironment semantics."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.errors import EngineError, ScriptError
from engine.sandbox import SandboxedScriptEngine, assert_sandboxed, script_error_from
from tests.unit.test_sandbox_paths import dmn_bpmn, gateway_bpmn, make_workflow, mi_bpmn, timer_bpmn

ENGINE = SandboxedScriptEngine()


def fake_task(data: dict[str, Any] | None = None, element_id: str = "el") -> Any:
    return SimpleNamespace(
        data=dict(data or {}), task_spec=SimpleNamespace(bpmn_id=element_id, name=element_id)
    )


DATA = {
    "amount": 1500,
    "name": "  Zhang San ",
    "tags": ["net", "hw"],
    "when": "2024-03-01T08:30:00+00:00",
    "price": "12.50",
    "type": "incident",
    "open": True,
}

EXPRESSIONS: list[tuple[str, Any]] = [
    ("amount > 1000 and amount <= 2000", True),
    ("(amount * 3 - 500) // 7 % 100", 71),
    ("amount ** 2", 2_250_000),
    ("name.strip().upper()", "ZHANG SAN"),
    ("name.split()", ["Zhang", "San"]),
    ("'-'.join(tags)", "net-hw"),
    ("name.strip().startswith('Zhang')", True),
    ("'{} has {:>5} items ({name})'.format('x', 3, name='n')", "x has     3 items (n)"),
    ("'%s=%05.1f' % ('v', 2.5)", "v=002.5"),
    ("f'{amount:,} for {name.strip()!r}'", "1,500 for 'Zhang San'"),
    ("[t.upper() for t in tags if t != 'hw']", ["NET"]),
    ("{t: len(t) for t in tags}", {"net": 3, "hw": 2}),
    ("sorted(tags, key=lambda t: len(t))", ["hw", "net"]),
    ("dict(a=1).get('b', 'none')", "none"),
    ("list(dict(a=1, b=2).items())", [("a", 1), ("b", 2)]),
    ("sum(Decimal(p) for p in [price, '0.75'])", Decimal("13.25")),
    ("parse_datetime(when) + timedelta(hours=2)", datetime(2024, 3, 1, 10, 30, tzinfo=UTC)),
    ("parse_datetime('2024-03-01T08:30:00Z').tzinfo == timezone.utc", True),
    ("(parse_date('2024-03-10') - parse_date('2024-03-01')).days", 9),
    ("date(2024, 1, 31) + timedelta(days=1)", date(2024, 2, 1)),
    ("now().tzinfo is not None and now() > parse_datetime(when)", True),
    ("today() >= date(2024, 1, 1)", True),
    ("iso_duration(days=1, hours=4)", "P1DT4H"),
    ("iso_duration(minutes=30)", "PT30M"),
    ("iso_duration(seconds=1.5)", "PT1.5S"),
    ("iso_duration()", "PT0S"),
    ("json_loads(json_dumps({'a': [1, 2]}, sort_keys=True))", {"a": [1, 2]}),
    ("isinstance(tags, list) and isinstance(name, str) and isinstance(Decimal(1), Decimal)", True),
    ("type == 'incident' and open", True),  # data may use builtin-looking names
    (
        "max(tags, key=len), min(3, 1), abs(-2), round(2.567, 2), divmod(7, 2), pow(2, 10)",
        ("net", 1, 2, 2.57, (3, 1), 1024),
    ),
    (
        "list(zip(tags, range(2))), list(enumerate(tags)), list(map(len, tags)), list(filter(None, [0, 1]))",
        ([("net", 0), ("hw", 1)], [(0, "net"), (1, "hw")], [3, 2], [1]),
    ),
    ("any(t == 'hw' for t in tags) and all(tags) and list(reversed(tags)) == ['hw', 'net']", True),
    ("set(tags) | {'x'} == {'net', 'hw', 'x'} and frozenset(tags) == frozenset(['hw', 'net'])", True),
    ("str(12) + repr('a')", "12'a'"),
    ("${ amount > 1000 }", True),
]


@pytest.mark.parametrize(("expression", "expected"), EXPRESSIONS, ids=[e for e, _ in EXPRESSIONS])
def test_ordinary_expressions(expression: str, expected: Any) -> None:
    assert ENGINE.evaluate(fake_task(DATA), expression) == expected


SCRIPT = """
total = Decimal('0')
for line in lines:
    total += Decimal(line['price']) * line['qty']
count = 0
while count < 3:
    count += 1
first, (second, third) = 1, (2, 3)
summary = {}
for name, qty in [(l['name'], l['qty']) for l in lines]:
    summary[name] = summary.get(name, 0) + qty
summary['pen'] += 10
try:
    missing = lines[10]
except IndexError as exc:
    missing = 'none: ' + str(exc)
def double(x):
    return x * 2
doubled = [double(i) for i in range(3)]
due = (parse_datetime('2024-03-01T00:00:00Z') + timedelta(days=2)).isoformat()
label = f"{len(lines)} lines, total {total}"
"""


def test_ordinary_script_assigns_into_task_data() -> None:
    task = fake_task(
        {"lines": [{"name": "pen", "price": "1.25", "qty": 4}, {"name": "pad", "price": "3", "qty": 1}]}
    )
    assert ENGINE.execute(task, SCRIPT) is True
    data = task.data
    assert data["total"] == Decimal("8.00")
    assert (data["count"], data["first"], data["second"], data["third"]) == (3, 1, 2, 3)
    assert data["summary"] == {"pen": 14, "pad": 1}
    assert data["missing"] == "none: list index out of range"
    assert data["doubled"] == [0, 2, 4]
    assert data["due"] == "2024-03-03T00:00:00+00:00"
    assert data["label"] == "2 lines, total 8.00"
    assert "double" not in data  # functions never stay in task data
    assert not set(data) & {"now", "Decimal", "datetime", "__builtins__", "_tick_"}


def test_execute_matches_task_data_environment_semantics() -> None:
    script = "b = a + ext\nf = lambda: 1\ndel gone\nalias = len"
    sandboxed = fake_task({"a": 1, "gone": 1, "_private": 7})
    ENGINE.execute(sandboxed, script, {"ext": 10})
    plain = fake_task({"a": 1, "gone": 1, "_private": 7})
    PythonScriptEngine().execute(plain, script, {"ext": 10})
    assert sandboxed.data == plain.data == {"a": 1, "b": 11, "_private": 7}


def test_failed_script_leaves_task_data_unchanged() -> None:
    task = fake_task({"a": 1})
    with pytest.raises(ScriptError) as caught:
        ENGINE.execute(task, "a = 2\nb = 3\nraise ValueError('bad input')")
    assert task.data == {"a": 1}
    assert (caught.value.kind, caught.value.line, caught.value.element_id) == ("error", 3, "el")
    assert caught.value.message == "ValueError: bad input"


def test_evaluate_sees_external_context_and_data_wins() -> None:
    assert ENGINE.evaluate(fake_task({"x": 1}), "x + y", {"x": 100, "y": 2}) == 3


def test_unknown_name_is_an_ordinary_error() -> None:
    with pytest.raises(ScriptError) as caught:
        ENGINE.evaluate(fake_task(), "undefined_thing > 1")
    assert caught.value.kind == "error" and "undefined_thing" in caught.value.message


def test_validate_keeps_syntax_error_contract_for_dmn() -> None:
    with pytest.raises(SyntaxError):
        ENGINE.validate("< 1000")
    ENGINE.validate("v < 1000")
    ENGINE.validate("__import__('os')")  # refused by evaluate/check, which know the element
    with pytest.raises(ScriptError) as caught:
        ENGINE.check("__import__('os')")
    assert caught.value.kind == "forbidden"
    with pytest.raises(ScriptError) as caught:
        ENGINE.check("x = (", "exec")
    assert caught.value.kind == "error" and caught.value.line == 1


def test_environment_called_directly_is_sandboxed_too() -> None:
    # Message correlations and process-level conditions call script_engine.environment.evaluate.
    with pytest.raises(ScriptError) as caught:
        ENGINE.environment.evaluate("().__class__.__base__", {"x": 1})
    assert caught.value.kind == "forbidden" and caught.value.element_id is None
    assert ENGINE.environment.evaluate("order['id']", {"order": {"id": 7}}) == 7


def test_service_calls_are_refused() -> None:
    with pytest.raises(ScriptError) as caught:
        ENGINE.call_service(fake_task(), operation_name="http")
    assert caught.value.kind == "forbidden"


def test_compiled_code_is_cached() -> None:
    from engine.sandbox.compiler import compile_sandboxed

    compile_sandboxed.cache_clear()
    for _ in range(5):
        ENGINE.evaluate(fake_task({"a": 2}), "a > 1")
    info = compile_sandboxed.cache_info()
    assert (info.misses, info.hits) == (1, 4)


DMN_CELLS: list[tuple[str, str, Any, bool]] = [
    ('"high"', "level", "high", True),
    ('"high"', "level", "low", False),
    ("< 1000", "amount", 999, True),
    ("< 1000", "amount", 1000, False),
    (">= 5", "amount", 5, True),
    ('"a","b"', "level", ("a", "b"), True),
    ("-", "level", "anything", True),
    ("!= 'x'", "level", "y", True),
    ("? > 3 and ? < 10", "amount", 5, True),
]


@pytest.mark.parametrize(("cell", "input_expression", "value", "matches"), DMN_CELLS)
def test_dmn_cells_decide_like_the_default_engine(
    cell: str, input_expression: str, value: Any, matches: bool
) -> None:
    outcomes = []
    for engine in (SandboxedScriptEngine(), PythonScriptEngine()):
        bpmn, dmn = dmn_bpmn(input_cell=cell, output_cell='"ok"', input_expression=input_expression)
        workflow = make_workflow(bpmn, dmn, False, {input_expression: value})
        workflow.script_engine = engine
        workflow.do_engine_steps()
        outcomes.append(workflow.last_task.data.get("outcome"))
    assert outcomes[0] == outcomes[1] == ("ok" if matches else None)


def test_gateway_timer_and_multi_instance_work(monkeypatch: pytest.MonkeyPatch) -> None:
    workflow = make_workflow(*gateway_bpmn("amount > 1000 and type == 'incident'"), True, DATA)
    workflow.do_engine_steps()
    assert workflow.is_completed()
    completed = {t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.COMPLETED)}
    assert "end_yes" in completed and "end_no" not in completed

    workflow = make_workflow(*timer_bpmn("iso_duration(minutes=30)"), True, {})
    workflow.do_engine_steps()
    waiting = workflow.waiting_events()
    assert len(waiting) == 1 and not workflow.is_completed()
    fires_at = datetime.fromisoformat(waiting[0].value)
    assert timedelta(minutes=29) < fires_at - datetime.now(UTC) <= timedelta(minutes=30)

    workflow = make_workflow(*mi_bpmn("len(tags) + 1"), False, DATA)
    workflow.do_engine_steps()
    children = [
        t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.name == "payload_mi [child]"
    ]
    assert len(children) == len(DATA["tags"]) + 1


def test_assert_sandboxed_refuses_the_default_engine() -> None:
    workflow = make_workflow(*gateway_bpmn("True"), True, {})
    assert_sandboxed(workflow)
    workflow.script_engine = PythonScriptEngine()
    with pytest.raises(EngineError, match="not the sandbox"):
        assert_sandboxed(workflow)
    assert isinstance(workflow, BpmnWorkflow)


def test_script_error_from_digs_through_wrappers() -> None:
    inner = ScriptError("boom", element_id="x", kind="error")
    task = make_workflow(*gateway_bpmn("True"), False, {}).get_tasks()[0]
    try:
        try:
            raise inner
        except ScriptError as exc:
            raise WorkflowTaskException("wrapped", task=task, exception=exc) from None
    except WorkflowTaskException as outer:
        wrapped = outer
    assert script_error_from(wrapped) is inner
    assert script_error_from(ValueError("x")) is None
