"""Fixes to SpiffWorkflow 3.2 for long-running loops, applied once on import.

SpiffWorkflow keeps every iteration of a loop in one ever-deeper task tree and
walks it with a depth limit of 1000 and with recursive helpers. Measured on
3.2.0: a back-edge loop around a user task silently reported the workflow as
*completed* after 333 rounds (the iterator stopped seeing the open task), and a
loop through a parallel join raised RecursionError after ~300 rounds.

These patches lift the iteration limit and make the recursive ancestor walks
iterative; behaviour on trees shallower than 1000 is unchanged. The engine then
enforces its own, explicit limit (`Settings.max_task_depth`), failing a step
with a clear error instead of stalling or mis-completing. They also track the
tasks a step changed and keep an index of READY/WAITING tasks so a step need
not walk the whole tree (`live_index`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskIterator, TaskState
from SpiffWorkflow.workflow import Workflow

from . import live_index
from .live_index import CHANGES_ATTR

__all__ = ["CHANGES_ATTR", "apply", "unpatched"]

# The walk limit; the engine's own depth check fires long before this.
ITERATION_DEPTH_LIMIT = 10_000_000
SPIFF_ITERATION_DEPTH_LIMIT = 1000  # SpiffWorkflow 3.2's default


def _is_descendant_of(self: Task, task: Task) -> bool:
    current = self.parent
    while current is not None:
        if current == task:
            return True
        current = current.parent
    return False


def _find_ancestor(self: Task, spec_name: str) -> Task | None:
    current = self.parent
    while current is not None:
        if current.task_spec.name == spec_name:
            return current
        current = current.parent
    return None


def _ancestor_ids(task: Task) -> set[Any]:
    ids: set[Any] = set()
    current = task.parent
    while current is not None:
        ids.add(current.id)
        current = current.parent
    return ids


def _join_run_hook(self: Any, my_task: Task) -> bool:
    # SpiffWorkflow's UnstructuredJoin._run_hook with one ancestor walk instead of one per candidate.
    ancestors = _ancestor_ids(my_task)
    other_tasks = [
        t
        for t in my_task.workflow.tasks.values()
        if t.task_spec == self and t.has_state(TaskState.FINISHED_MASK) and t.id not in ancestors
    ]
    for task in sorted(other_tasks, key=lambda t: t.last_state_change):
        DeepMerge.merge(my_task.data, task.parent.data)
        if task.has_state(TaskState.COMPLETED):
            task._drop_children(force=True)
    my_task._inherit_data()
    return True


def _check_threshold_unstructured(self: Any, my_task: Task) -> bool:
    # SpiffWorkflow's ParallelGateway logic, with the ancestor walks done once as a set
    # instead of recursively per candidate: O(tree) per check instead of O(tree x depth).
    tasks = my_task.workflow.get_tasks(spec_name=self.name)
    waiting_inputs = set(self.inputs)
    ancestors = _ancestor_ids(my_task)

    def descends_from_my_task(task: Task) -> bool:
        node = task.parent
        while node is not None:
            if node.id == my_task.id:
                return True
            if node.id in ancestors:
                return False  # joined my_task's ancestor line above my_task
            node = node.parent
        return False

    def remove_ancestor(task: Task | None) -> None:
        while task is not None:
            if task.task_spec in waiting_inputs:
                waiting_inputs.remove(task.task_spec)
                return
            task = task.parent

    for task in tasks:
        if task.id in ancestors:
            continue  # an earlier iteration: ignore its inputs
        if descends_from_my_task(task):
            remove_ancestor(task)
        elif task.parent.state == TaskState.COMPLETED and task.parent.task_spec in waiting_inputs:
            waiting_inputs.remove(task.parent.task_spec)
    return len(waiting_inputs) == 0


# -- change tracking and the live index ---------------------------------------------
# A workflow that carries a set in CHANGES_ATTR gets the id of every task whose
# state changed, that gained a child, or that was created or removed, so a step
# can be persisted by looking at those tasks only (see engine.runtime.state.diff).
# The same hooks keep each workflow's READY/WAITING index (see live_index).

_applied: list[tuple[type, str, Any, Any]] = []  # (owner, attribute, SpiffWorkflow's original, ours)


def _replace(owner: type, name: str, replacement: Any) -> None:
    _applied.append((owner, name, owner.__dict__[name], replacement))
    setattr(owner, name, replacement)


def _set_iteration_limit(limit: int) -> None:
    for cls in (TaskIterator, BpmnTaskIterator):
        defaults = list(cls.__init__.__defaults__)  # type: ignore[misc]
        defaults[1] = limit  # (end_at_spec, max_depth, ...) in both iterators
        cls.__init__.__defaults__ = tuple(defaults)  # type: ignore[misc]


def apply() -> None:
    """Idempotent: safe to call more than once."""
    if getattr(Task, "_opsflow_patched", False):
        return
    _set_iteration_limit(ITERATION_DEPTH_LIMIT)
    _replace(Task, "is_descendant_of", _is_descendant_of)
    _replace(Task, "find_ancestor", _find_ancestor)
    _replace(ParallelGateway, "_check_threshold_unstructured", _check_threshold_unstructured)
    _replace(UnstructuredJoin, "_run_hook", _join_run_hook)
    _replace(Task, "_set_state", live_index.set_state)
    _replace(Task, "_child_added_notify", live_index.child_added(Task._child_added_notify))
    _replace(Workflow, "_remove_task", live_index.task_removed(Workflow._remove_task))
    _replace(Workflow, "update_waiting_tasks", live_index.update_waiting_tasks(Workflow.update_waiting_tasks))
    _replace(BpmnWorkflow, "_do_engine_steps", live_index.do_engine_steps_pass)
    Task._opsflow_patched = True  # type: ignore[attr-defined]


@contextmanager
def unpatched() -> Iterator[None]:
    """SpiffWorkflow exactly as released while the block runs (the benchmark's plain figure).
    Not thread-safe: nothing else may run workflows meanwhile."""
    for owner, name, original, _ in reversed(_applied):
        setattr(owner, name, original)
    _set_iteration_limit(SPIFF_ITERATION_DEPTH_LIMIT)
    try:
        yield
    finally:
        _set_iteration_limit(ITERATION_DEPTH_LIMIT)
        for owner, name, _, ours in _applied:
            setattr(owner, name, ours)


apply()
