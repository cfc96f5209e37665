"""The READY/WAITING index: a step costs what it changes, answers equal SpiffWorkflow's own walk."""

from __future__ import annotations

import hashlib
import inspect
import logging
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskIterator, TaskState

from engine.core import Engine
from engine.runtime import live_index, patches
from engine.views import Actor, Role

BENCH = Path(__file__).resolve().parents[2] / "bench"
USER = Actor("looper", groups=frozenset({"bench"}), roles=frozenset({Role.STAFF, Role.PROCESS_OWNER}))


def _loop_workflow() -> BpmnWorkflow:
    parser = CamundaParser()
    parser.add_bpmn_file(str(BENCH / "loop.bpmn"))
    workflow = BpmnWorkflow(parser.get_spec("bench_loop"))
    workflow.do_engine_steps()
    return workflow


def _round(workflow: BpmnWorkflow, note: str = "again") -> None:
    task = next(t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.manual)
    task.data["note"] = note
    task.run()
    workflow.do_engine_steps()


def _walked_per_step(workflow: BpmnWorkflow, monkeypatch: pytest.MonkeyPatch) -> int:
    """Tasks SpiffWorkflow's iterators visit during one round (finding the open task is not counted)."""
    task = next(t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.manual)
    visited = 0
    original = TaskIterator._next

    def counting(self: TaskIterator) -> Task:
        nonlocal visited
        visited += 1
        return original(self)

    monkeypatch.setattr(TaskIterator, "_next", counting)
    monkeypatch.setattr(live_index, "VERIFY", False)  # the check walks the tree on purpose
    task.data["note"] = "again"
    task.run()
    workflow.do_engine_steps()
    monkeypatch.setattr(TaskIterator, "_next", original)
    return visited


def _walked_early_and_late(monkeypatch: pytest.MonkeyPatch, later: int) -> tuple[BpmnWorkflow, int, int]:
    """Tasks walked by the step of round 4 and by the step `later` rounds on."""
    workflow = _loop_workflow()
    for _ in range(3):
        _round(workflow)
    early = _walked_per_step(workflow, monkeypatch)
    for _ in range(later):
        _round(workflow)
    return workflow, early, _walked_per_step(workflow, monkeypatch)


def test_a_loop_step_walks_no_more_of_the_tree_in_round_300_than_in_round_3(monkeypatch) -> None:
    workflow, early, late = _walked_early_and_late(monkeypatch, 300)
    assert len(workflow.tasks) > 600
    assert late == early
    _round(workflow, "stop")
    assert workflow.is_completed()


def test_released_spiffworkflow_walks_the_whole_tree_each_step(monkeypatch) -> None:
    """The baseline the index removes (and proof that `unpatched` really takes the patches off)."""
    with patches.unpatched():
        _, early, late = _walked_early_and_late(monkeypatch, 100)
    assert late > early + 100
    assert Task._set_state is live_index.set_state  # patched again after the block


def test_verification_catches_an_index_that_disagrees_with_the_tree() -> None:
    workflow = _loop_workflow()
    index = live_index.index_of(workflow)
    ready = next(iter(index.ready))
    index.ready.clear()
    with pytest.raises(AssertionError, match="live index says READY"):
        live_index.ready_tasks(workflow)
    index.ready.add(ready)
    assert live_index.ready_tasks(workflow) == [workflow.tasks[ready]]
    index.waiting.clear()
    workflow.update_waiting_tasks()  # nothing waits: agrees with the walk
    waiting = workflow.tasks[ready]
    waiting._state = TaskState.WAITING  # behind the index's back
    with pytest.raises(AssertionError, match="nothing is WAITING"):
        workflow.update_waiting_tasks()


def test_state_changes_are_still_logged_when_spiffworkflow_logging_is_on(caplog) -> None:
    workflow = _loop_workflow()
    with caplog.at_level(logging.INFO, logger="spiff.task"):
        _round(workflow)
    assert any(r.message.startswith("State changed to COMPLETED") for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="spiff.task"):
        _round(workflow)
    assert not [r for r in caplog.records if r.name == "spiff.task"]


def test_a_persisted_loop_restored_from_its_rows_steps_on_correctly(make_engine) -> None:
    """A restored workflow builds its index from its tasks; the next steps agree with the walk (VERIFY)."""
    assert live_index.VERIFY
    engine: Engine = make_engine(forms_dir=str(BENCH / "forms"))
    engine.definitions.deploy({"loop.bpmn": (BENCH / "loop.bpmn").read_bytes()}, USER)
    case = engine.instances.start("bench_loop", {}, USER)
    for _ in range(20):
        case = engine.tasks.complete(case.open_tasks[0].id, {"note": "again"}, USER)
    engine.store.cache.clear()
    case = engine.tasks.complete(case.open_tasks[0].id, {"note": "again"}, USER)
    assert case.state == "running"
    case = engine.tasks.complete(case.open_tasks[0].id, {"note": "stop"}, USER)
    assert case.state == "completed"


def test_the_copied_engine_step_loop_is_the_installed_spiffworkflows() -> None:
    """`do_engine_steps_pass` copies SpiffWorkflow's loop but for the READY lookup: an upgrade must re-check it."""
    original = next(o for _, name, o, _ in patches._applied if name == "_do_engine_steps")
    digest = hashlib.sha256(inspect.getsource(original).encode()).hexdigest()
    assert digest == live_index.COPIED_ENGINE_STEPS_SHA256
