"""Which tasks of a workflow are READY or WAITING, kept up to date instead of searched for.

SpiffWorkflow 3.2 finds them by walking the whole task tree: twice per
`do_engine_steps` pass for READY tasks, and once more for WAITING tasks after
*every* task that completes. A case keeps every loop iteration in its tree,
so a step of a case in its 500th round walked ~1,000 tasks half a dozen times
(≈90 % of the step, and the walks left the CPU caches cold for everything
after them). With the index below a step costs what it changes.

The index is exact by construction, not by approximation: it answers only
where the walk's answer is certain to be the same, and otherwise lets
SpiffWorkflow walk.

* `get_tasks(state=READY)` in `_do_engine_steps` is an eager list: with no
  subprocesses (the iterator would descend into them) and at most one READY
  task, the list is that task or nothing; tree order cannot matter.
* `update_waiting_tasks` visits WAITING tasks: if the workflow has none, the
  walk would find none (its `_update` calls are what could create more).

Maintained by `Task._set_state` (replaced here by the same method without its
eager log formatting: SpiffWorkflow built an f-string and a dict of log extras
on every state change, logged or not), by child creation and by task removal.
A workflow's index is built by one walk on first use, so restored workflows
need nothing special. Tests set `VERIFY` and every answer is checked against
SpiffWorkflow's own walk.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskIterator, TaskState

INDEX_ATTR = "_opsflow_live"
CHANGES_ATTR = "_opsflow_changes"
READY, WAITING = TaskState.READY, TaskState.WAITING
_LIVE = READY | WAITING
# Tests turn this on: every shortcut is compared with the full walk it replaces.
VERIFY = False

_task_log = logging.getLogger("spiff.task")


class LiveIndex:
    """The READY and WAITING task ids of one workflow (its own tasks, not its subprocesses')."""

    __slots__ = ("ready", "waiting")

    def __init__(self, workflow: Any) -> None:
        self.ready: set[Any] = set()
        self.waiting: set[Any] = set()
        for task in workflow.tasks.values():
            self.note(task.id, 0, task._state)

    def note(self, task_id: Any, old: int, new: int) -> None:
        if old & _LIVE:
            (self.ready if old == READY else self.waiting).discard(task_id)
        if new & _LIVE:
            (self.ready if new == READY else self.waiting).add(task_id)


def index_of(workflow: Any) -> LiveIndex:
    index: LiveIndex | None = workflow.__dict__.get(INDEX_ATTR)
    if index is None:
        index = LiveIndex(workflow)
        setattr(workflow, INDEX_ATTR, index)
    return index


def _changes_of(workflow: Any) -> set[Any] | None:
    """The changed-task set of a (sub)workflow's top workflow, when the engine tracks it."""
    top = getattr(workflow, "top_workflow", None)
    return getattr(top, CHANGES_ATTR, None) if top is not None else None


def set_state(self: Task, value: int) -> None:
    """SpiffWorkflow's `Task._set_state`, with lazy logging, the live index and change tracking."""
    old = self._state
    if value != old:
        now = time.time()
        elapsed = now - self.last_state_change
        self.last_state_change = now
        self._state = value
        index = self.workflow.__dict__.get(INDEX_ATTR)
        if index is not None:
            index.note(self.id, old, value)
        if _task_log.isEnabledFor(logging.INFO):
            _task_log.info(f"State changed to {TaskState.get_name(value)}",
                           extra=self.collect_log_extras({"elapsed": elapsed}))
    elif _task_log.isEnabledFor(logging.DEBUG):
        _task_log.debug(f"State set to {TaskState.get_name(value)}", extra=self.collect_log_extras())
    changes = _changes_of(self.workflow)
    if changes is not None:
        changes.add(self.id)


def child_added(original: Any) -> Any:
    def wrapper(self: Task, child: Task) -> Any:
        result = original(self, child)
        index = child.workflow.__dict__.get(INDEX_ATTR)
        if index is not None:
            index.note(child.id, 0, child._state)
        changes = _changes_of(self.workflow)
        if changes is not None:
            changes.add(self.id)
            changes.add(child.id)
        return result

    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    return wrapper


def task_removed(original: Any) -> Any:
    def wrapper(self: Any, task_id: Any) -> None:
        task = self.tasks[task_id]
        parent_id = task._parent
        original(self, task_id)
        index = self.__dict__.get(INDEX_ATTR)
        if index is not None:
            index.note(task_id, task._state, 0)
        changes = _changes_of(self)
        if changes is not None:
            changes.add(task_id)
            if parent_id is not None:
                changes.add(parent_id)

    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    return wrapper


def ready_tasks(workflow: Any) -> list[Task]:
    """`workflow.get_tasks(state=READY)`, from the index when that is certain to give the same list."""
    if not workflow.top_workflow.subprocesses:
        ready = index_of(workflow).ready
        if len(ready) <= 1:
            found = [workflow.tasks[task_id] for task_id in ready]
            if VERIFY:
                walked = workflow.get_tasks(state=READY)
                assert found == walked, f"live index says READY {found}, the tree says {walked}"
            return found
    tasks: list[Task] = workflow.get_tasks(state=READY)
    return tasks


def update_waiting_tasks(original: Any) -> Any:
    def wrapper(self: Any) -> None:
        if not index_of(self).waiting:
            if VERIFY:
                walked = list(TaskIterator(self.task_tree, state=WAITING))
                assert not walked, f"live index says nothing is WAITING, the tree says {walked}"
            return
        original(self)

    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    return wrapper


# sha256 of the source of SpiffWorkflow 3.2.0's BpmnWorkflow._do_engine_steps, which the function below
# copies: a test fails if the installed library's differs, so an upgrade re-checks the copy.
COPIED_ENGINE_STEPS_SHA256 = "1c52d09d52f7203845c6af36d555ad851b57b26a294c7da6f2a4f73b04a3082f"


def do_engine_steps_pass(self: Any, will_complete_task: Any = None, did_complete_task: Any = None) -> bool:
    """SpiffWorkflow 3.2's `BpmnWorkflow._do_engine_steps`, finding READY tasks through `ready_tasks`."""

    def update_workflow(wf: Any) -> int:
        count = 0
        for task in ready_tasks(wf):
            if not task.task_spec.manual:
                if will_complete_task is not None:
                    will_complete_task(task)
                task.run()
                count += 1
                if did_complete_task is not None:
                    did_complete_task(task)
        return count

    active_subprocesses = self.get_active_subprocesses()
    for subprocess in sorted(active_subprocesses, key=lambda v: v.depth, reverse=True):
        count = None
        while count is None or count > 0:
            count = update_workflow(subprocess)
        if subprocess.parent_task_id is not None:
            task = self.get_task_from_id(subprocess.parent_task_id)
            task.task_spec._update(task)

    count = update_workflow(self)
    return count > 0 or len(self.get_active_subprocesses()) > len(active_subprocesses)
