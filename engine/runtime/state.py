"""Incremental persistence of a workflow's state.

A case's state is split into one row per SpiffWorkflow task plus a small
header (workflow-level attributes). After a step only the tasks whose
signature changed are written, and tasks that disappeared are deleted, so the
cost of a step does not grow with the age of the case. Specs are never
serialized with a case: restoring uses the compiled, cached spec.

Serialized state is trusted only from our own database, and only in the
current format (`STATE_VERSION`) or one with a named upgrade in `UPGRADES`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, SimpleTaskConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_FORMAT
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.errors import EngineError

from .patches import CHANGES_ATTR

# Bump when the layout of headers or task bodies changes, and add an upgrade.
STATE_VERSION = f"opsflow-1/spiff-{SPIFF_FORMAT}"

# Named, tested upgrades: version -> function(header, bodies) -> None (in place).
UPGRADES: dict[str, Callable[[dict[str, Any], list[dict[str, Any]]], None]] = {}

TOP = ""  # workflow id of the top-level workflow's task rows
UPGRADED_ATTR = "_opsflow_upgraded"
ACTIVE_MASK = TaskState.READY | TaskState.WAITING | TaskState.STARTED
# Tasks whose data can change while their state stays the same: a waiting event's internal data (a timer
# moved, a cycle counted), a started subprocess or multi-instance parent gathering its children. A READY
# task is left alone until it runs (a state change): nothing writes its data before that.
DRIFTING_MASK = TaskState.WAITING | TaskState.STARTED


class _CachedSpecWorkflowConverter(BpmnWorkflowConverter):
    """Restores a workflow around an already-built spec instead of rebuilding it from a dict."""

    def from_dict(self, dct):  # type: ignore[no-untyped-def]
        spec = dct.pop("spec")
        subprocess_specs = dct.pop("subprocess_specs")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_registry() -> Any:
    config = dict(CAMUNDA_CONFIG)
    config[BpmnWorkflow] = _CachedSpecWorkflowConverter
    # Full data per task (no parent deltas): an unchanged task row stays valid
    # however its parent changes later, which incremental writes rely on.
    config[Task] = SimpleTaskConverter
    registry = BpmnWorkflowSerializer.configure(config)
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    return registry


REGISTRY = _make_registry()


# One encoder for every call: json.dumps with any non-default option builds a new JSONEncoder each time,
# which cost more than encoding a task body. encode() keeps no state between calls.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dump_json(value: Any) -> str:
    return _ENCODER.encode(value)


_PRIMITIVES = frozenset({str, int, float, bool, type(None)})


def _flat(data: dict[str, Any]) -> bool:
    """Whether every value is a plain JSON scalar (exact types): then the registry's clean and convert
    return an equal dict, and the walk through them can be skipped."""
    return _PRIMITIVES.issuperset(map(type, data.values()))


def _jsonable(data: dict[str, Any]) -> Any:
    """`data` itself when it is plain, else the registry's JSON-ready copy (dates and decimals tagged)."""
    if type(data) is dict and _flat(data):
        return data
    return REGISTRY.convert(REGISTRY.clean(data))


def convert_data(data: dict[str, Any]) -> Any:
    """Task or case data as JSON-ready values, never the caller's own dict."""
    value = _jsonable(data)
    return dict(value) if value is data else value


def _data_json(data: dict[str, Any]) -> str:
    """dump_json(convert_data(data)), without the copy for plain data."""
    return _ENCODER.encode(_jsonable(data))


def restore_data(value: Any) -> Any:
    if type(value) is dict and "typename" not in value and _flat(value):
        return dict(value)
    return REGISTRY.restore(value)


Signature = tuple[int, float, int, bool, int, int]


@lru_cache(maxsize=8192)
def _json_string(text: str) -> str:
    return _ENCODER.encode(text)


# A task id's text, looked up rather than formatted again: a task's id, its parent's and its children's
# are written into every body of it and of its neighbours, step after step (str(UUID) is slow Python).
id_text: Callable[[UUID], str] = lru_cache(maxsize=16384)(str)

_BODY = (
    '{"typename":"Task","id":"%s","parent":%s,"children":[%s],"last_state_change":%s,"state":%d,'
    '"task_spec":%s,"triggered":%s,"internal_data":%s,"data":%s}'
)


def task_body(task: Task) -> str:
    """A task's row body: what SimpleTaskConverter.to_dict produces, as dump_json would write it.

    Built as text around the two data members: this runs for every changed task of every step.
    """
    internal = task.internal_data
    data = task.data
    parent = task._parent
    changed = task.last_state_change
    return _BODY % (
        id_text(task.id),
        f'"{id_text(parent)}"' if parent is not None else "null",
        ",".join([f'"{id_text(child)}"' for child in task._children]),
        float.__repr__(changed) if type(changed) is float else dump_json(changed),
        task.state,
        _json_string(task.task_spec.name),
        "true" if task.triggered else "false",
        _data_json(internal) if internal else "{}",  # REGISTRY.convert cleans first, as convert_data does
        _data_json(data) if data else "{}",
    )


_FORCE_REWRITE: Signature = (-1, -1.0, -1, False, -1, -1)  # matches no real task


def signature(task: Task) -> Signature:
    """What must change for a task's serialized body to change."""
    return (
        task.state,
        task.last_state_change,
        len(task._children),
        task.triggered,
        len(task.internal_data),
        len(task.data),
    )


@dataclass
class TaskRow:
    task_id: str
    workflow_id: str
    body: str


@dataclass
class StateChanges:
    """What a step changed: rows to insert, rows to update, ids to delete, and the new header."""

    inserts: list[TaskRow] = field(default_factory=list)
    updates: list[TaskRow] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    header: str = ""
    # The tasks of the inserted and updated rows, in that order (so readers need not look them up again).
    written: list[Task] = field(default_factory=list)


@dataclass
class Snapshot:
    """What was last written of a case: per task its signature, workflow and depth.

    Unfinished tasks are re-serialized on every step (their data can change
    without a state change); finished ones only when the change tracking in
    `patches` reports them.
    """

    signatures: dict[UUID, Signature] = field(default_factory=dict)
    workflow_of: dict[UUID, str] = field(default_factory=dict)
    depths: dict[UUID, int] = field(default_factory=dict)
    unfinished: dict[UUID, str] = field(default_factory=dict)  # id -> last written body
    subprocesses: set[str] = field(default_factory=set)
    max_depth: int = 0
    deepest_element: str | None = None

    def note_depth(self, task: Task) -> None:
        """Record a task's depth from its parent's."""
        parent_id = task._parent
        if parent_id is None:
            depth = 0
        elif parent_id in self.depths:
            depth = self.depths[parent_id] + 1
        else:
            depth = task.depth
        self.depths[task.id] = depth
        if depth > self.max_depth:
            self.max_depth = depth
            self.deepest_element = task.task_spec.bpmn_id or task.task_spec.name


def _workflows(workflow: BpmnWorkflow) -> list[tuple[str, Any]]:
    return [(TOP, workflow)] + [(str(pid), sp) for pid, sp in workflow.subprocesses.items()]


def _header_of(wf: Any) -> dict[str, Any]:
    return {
        "data": convert_data(wf.data),
        "correlations": wf.correlations,
        "last_task": id_text(wf.last_task.id) if wf.last_task is not None else None,
        "success": wf.success,
        "completed": wf.completed,
        "root": id_text(wf.task_tree.id),
    }


def build_header(workflow: BpmnWorkflow) -> str:
    header: dict[str, Any] = {
        "version": STATE_VERSION,
        "top": _header_of(workflow),
        "bpmn_events": REGISTRY.convert(workflow.bpmn_events),
        "subprocesses": {},
    }
    for pid, sp in workflow.subprocesses.items():
        sub = _header_of(sp)
        sub["parent_task_id"] = str(pid)
        sub["spec"] = sp.spec.name
        header["subprocesses"][str(pid)] = sub
    return dump_json(header)


def track_changes(workflow: BpmnWorkflow, initial: set[UUID] | None = None) -> None:
    """Start recording changed task ids on this workflow (see patches.CHANGES_ATTR)."""
    setattr(workflow, CHANGES_ATTR, set(initial or ()))


def lookup_task(workflow: BpmnWorkflow, task_id: UUID) -> tuple[Task | None, str]:
    task = workflow.tasks.get(task_id)
    if task is not None:
        return task, TOP
    for pid, sp in workflow.subprocesses.items():
        task = sp.tasks.get(task_id)
        if task is not None:
            return task, str(pid)
    return None, ""


def _depth_order(tasks: list[Task], snapshot: Snapshot) -> list[Task]:
    """New tasks with parents before children, so depths and row order follow the tree."""
    pending = {t.id: t for t in tasks}
    ordered: list[Task] = []
    placed: set[UUID] = set()

    def place(task: Task) -> None:
        chain = []
        node: Task | None = task
        while node is not None and node.id in pending and node.id not in placed:
            chain.append(node)
            node = node.parent
        for item in reversed(chain):
            placed.add(item.id)
            ordered.append(item)

    for task in tasks:
        place(task)
    return ordered


def diff(workflow: BpmnWorkflow, snapshot: Snapshot) -> StateChanges:
    """What changed since the last write, from the tracked task ids; updates the snapshot in place."""
    changes = StateChanges(header=build_header(workflow))
    tracked: set[UUID] = getattr(workflow, CHANGES_ATTR)
    setattr(workflow, CHANGES_ATTR, set())
    # Waiting and started tasks can change data without changing state; the others only through tracked events.
    candidates = tracked | {tid for tid in snapshot.unfinished if snapshot.signatures[tid][0] & DRIFTING_MASK}
    current_subprocesses = {str(pid) for pid in workflow.subprocesses}
    if snapshot.subprocesses - current_subprocesses:
        gone = snapshot.subprocesses - current_subprocesses
        candidates |= {tid for tid, wf_id in snapshot.workflow_of.items() if wf_id in gone}
    snapshot.subprocesses = current_subprocesses

    new_tasks: list[tuple[Task, str]] = []
    updated, updated_tasks = changes.updates, []
    for task_id in candidates:
        task, wf_id = lookup_task(workflow, task_id)
        if task is None:
            if task_id in snapshot.signatures:
                changes.deletes.append(str(task_id))
                for known in (snapshot.signatures, snapshot.workflow_of, snapshot.depths, snapshot.unfinished):
                    known.pop(task_id, None)  # type: ignore[attr-defined]
            continue
        previous = snapshot.signatures.get(task_id)
        if previous is None:
            new_tasks.append((task, wf_id))
            continue
        sig = signature(task)
        state = task.state
        if previous == sig and not state & ACTIVE_MASK:
            continue
        body = task_body(task)
        if previous != sig or snapshot.unfinished.get(task_id) != body:
            updated.append(TaskRow(id_text(task_id), wf_id, body))
            updated_tasks.append(task)
        snapshot.signatures[task_id] = sig
        _note_unfinished(snapshot, task, bool(state & TaskState.NOT_FINISHED_MASK), body)

    inserts, written = changes.inserts, changes.written
    if new_tasks:
        workflow_ids = {t.id: w for t, w in new_tasks}
        for task in _depth_order([t for t, _ in new_tasks], snapshot):
            body = task_body(task)
            task_id = task.id
            wf_id = workflow_ids[task_id]
            inserts.append(TaskRow(id_text(task_id), wf_id, body))
            written.append(task)
            snapshot.signatures[task_id] = signature(task)
            snapshot.workflow_of[task_id] = wf_id
            snapshot.note_depth(task)
            _note_unfinished(snapshot, task, bool(task.state & TaskState.NOT_FINISHED_MASK), body)
    written.extend(updated_tasks)
    return changes


def _note_unfinished(snapshot: Snapshot, task: Task, unfinished: bool, body: str) -> None:
    if unfinished:
        snapshot.unfinished[task.id] = body
    else:
        snapshot.unfinished.pop(task.id, None)


def full_snapshot(workflow: BpmnWorkflow) -> Snapshot:
    """The snapshot of a freshly restored workflow; starts change tracking.

    Every row is taken as stored, except after an upgrade: then every row is marked changed, so the
    next save rewrites them all in the current format together with the header.
    """
    snapshot = Snapshot(subprocesses={str(pid) for pid in workflow.subprocesses})
    rewrite_all = bool(getattr(workflow, UPGRADED_ATTR, False))
    for wf_id, wf in _workflows(workflow):
        for task in _depth_order(list(wf.tasks.values()), snapshot):
            snapshot.signatures[task.id] = _FORCE_REWRITE if rewrite_all else signature(task)
            snapshot.workflow_of[task.id] = wf_id
            snapshot.note_depth(task)
            if task.state & TaskState.NOT_FINISHED_MASK:
                snapshot.unfinished[task.id] = task_body(task)
    track_changes(workflow, set(snapshot.signatures) if rewrite_all else None)
    return snapshot


def restore(
    spec: Any,
    subprocess_specs: dict[str, Any],
    header_json: str,
    rows: list[tuple[str, str]],
    script_engine: Any,
) -> BpmnWorkflow:
    """Rebuild a workflow from its header and (workflow_id, body) rows, with our script engine attached."""
    header = json.loads(header_json)
    bodies = [(wf_id, json.loads(body)) for wf_id, body in rows]
    version = header.get("version")
    if version != STATE_VERSION:
        upgrade = UPGRADES.get(version) if isinstance(version, str) else None
        if upgrade is None:
            raise EngineError(
                f"refusing to load case state in format {version!r}: only {STATE_VERSION!r} "
                "or a format with a named upgrade is trusted"
            )
        upgrade(header, [b for _, b in bodies])
    upgraded = version != STATE_VERSION
    by_workflow: dict[str, dict[str, Any]] = {}
    for wf_id, body in bodies:
        by_workflow.setdefault(wf_id, {})[body["id"]] = body
    top = dict(header["top"])
    dct: dict[str, Any] = {
        "typename": "BpmnWorkflow",
        "spec": spec,
        "subprocess_specs": subprocess_specs,
        "tasks": by_workflow.get(TOP, {}),
        "bpmn_events": header.get("bpmn_events", []),
        "subprocesses": {},
        **top,
    }
    for pid, sub in header.get("subprocesses", {}).items():
        dct["subprocesses"][pid] = {"typename": "BpmnSubWorkflow", "tasks": by_workflow.get(pid, {}), **sub}
    try:
        workflow = REGISTRY.restore(dct)
    except Exception as exc:  # a corrupt or mis-upgraded state must become a clear, recorded error
        raise EngineError(f"the stored case state cannot be restored: {type(exc).__name__}: {exc}") from exc
    workflow.script_engine = script_engine
    # Rows read in an older format must all be rewritten by the next save (see full_snapshot).
    setattr(workflow, UPGRADED_ATTR, upgraded)
    return workflow


def serialized(workflow: BpmnWorkflow) -> dict[str, Any]:
    """Every task body and the header, for comparing two workflows (tests, verification)."""
    return {
        "header": json.loads(build_header(workflow)),
        "tasks": {str(tid): REGISTRY.convert(task) for _, wf in _workflows(workflow) for tid, task in wf.tasks.items()},
    }
