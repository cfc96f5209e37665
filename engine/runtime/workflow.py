"""Creating, advancing and reading workflows: the engine's hands on SpiffWorkflow."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.errors import Conflict, EngineError, OpsflowError, ScriptError
from engine.sandbox import SandboxedScriptEngine, ScriptLimits, assert_sandboxed, script_error_from

from . import patches
from .compiler import CompiledProcess
from .specs import OpsflowUserTask
from .state import Snapshot, StateChanges, convert_data, diff, id_text, lookup_task, track_changes

patches.apply()

_EXPR = re.compile(r"^\s*[$#]\{(?P<body>.*)\}\s*$", re.DOTALL)
_ISO_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")


@dataclass(frozen=True)
class ReadyUserTask:
    """A user task that has just become ready, with its assignment evaluated."""

    task_id: str
    element_id: str
    name: str
    form_key: str | None
    lane: str | None
    assignee: str | None
    candidate_users: list[str]
    candidate_groups: list[str]
    due_at: datetime | None
    priority: int
    properties: dict[str, str]


@dataclass
class StepOutcome:
    """What a step did, for the persistence and inbox layers."""

    changes: StateChanges
    new_user_tasks: list[ReadyUserTask] = field(default_factory=list)
    open_user_task_ids: set[str] = field(default_factory=set)
    newly_completed_elements: list[str] = field(default_factory=list)
    active_elements: list[str] = field(default_factory=list)
    completed: bool = False
    data: Any = None
    max_depth: int = 0
    message_waits: dict[str, str] = field(default_factory=dict)  # waiting task id -> message name
    timer_waits: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # task id -> (element, due)


@dataclass(frozen=True)
class FiredTimer:
    element_id: str
    interrupting: bool
    attached_task_id: str | None  # the activity a boundary timer sits on


def _attached_task_id(timer: Task) -> str | None:
    """For a boundary timer: the task of the activity it is attached to (a sibling under the boundary split)."""
    split = timer.parent
    if split is None or type(split.task_spec).__name__ != "BoundaryEventSplit":
        return None
    for sibling in split.children:
        if sibling is not timer and not hasattr(sibling.task_spec, "cancel_activity"):
            return str(sibling.id)
    return None


def _timer_due(task: Task, definition: Any) -> datetime | None:
    """When a waiting timer event is due (SpiffWorkflow keeps it in the task's internal data)."""
    if not isinstance(definition, TimerEventDefinition):
        return None
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):  # cycle timers
        value = value.get("next")
    if not value:
        return None
    due = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return due if due.tzinfo else due.replace(tzinfo=UTC)


def _strip_expression(text: str) -> tuple[bool, str]:
    match = _EXPR.match(text)
    return (True, match.group("body")) if match else (False, text)


def parse_duration(text: str) -> timedelta:
    """An ISO-8601 duration (PnDTnHnMnS, PnW) as a timedelta; years and months are refused."""
    match = _ISO_DURATION.match(text.strip())
    if not match:
        raise ValueError(f"not an ISO-8601 duration: {text!r}")
    if match.group(1) or match.group(2):
        raise ValueError(f"durations in years or months are ambiguous: {text!r}")
    weeks = int((match.group(3) or "0W")[:-1])
    days = int((match.group(4) or "0D")[:-1])
    hours = int((match.group(6) or "0H")[:-1])
    minutes = int((match.group(7) or "0M")[:-1])
    seconds = float((match.group(8) or "0S")[:-1])
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def _as_due(value: Any, now: datetime) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, timedelta):
        return now + value
    text = str(value).strip()
    if text.startswith("P"):
        return now + parse_duration(text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


class WorkflowRuntime:
    """Runs workflows with the sandboxed script engine and turns library failures into our errors."""

    def __init__(self, limits: ScriptLimits | None = None, max_task_depth: int = 5000,
                 helpers: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self.script_engine = SandboxedScriptEngine(limits, helpers)
        self.max_task_depth = max_task_depth

    # -- creating and moving -------------------------------------------------

    def new_workflow(self, compiled: CompiledProcess, data: dict[str, Any]) -> BpmnWorkflow:
        workflow = BpmnWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=self.script_engine)
        track_changes(workflow, set(workflow.tasks))
        workflow.task_tree.data.update(data)
        return workflow

    def advance(self, workflow: BpmnWorkflow) -> None:
        """Run engine tasks until only user tasks and waits remain."""
        assert_sandboxed(workflow)
        with self._translated_errors():
            workflow.do_engine_steps()

    def complete_user_task(self, workflow: BpmnWorkflow, task_id: str, data: dict[str, Any]) -> Task:
        assert_sandboxed(workflow)  # a user task's pre/post scripts run in task.run()
        task = self.user_task(workflow, task_id)
        with self._translated_errors(task):
            task.data.update(data)
            task.run()
        self.advance(workflow)
        return task

    def user_task(self, workflow: BpmnWorkflow, task_id: str) -> Task:
        task = workflow.get_task_from_id(UUID(task_id))
        if task is None or not task.task_spec.manual:
            raise Conflict(f"task {task_id} is not part of this case's open work")
        if task.state != TaskState.READY:
            raise Conflict(f"task {task_id} is no longer open ({TaskState.get_name(task.state)})")
        return task

    @staticmethod
    def waiting_for_message(workflow: BpmnWorkflow, name: str) -> list[str]:
        """Ids of the tasks waiting for message `name` (e.g. a message start event of a new case)."""
        return [
            str(t.id) for t in workflow.get_tasks(state=TaskState.WAITING)
            if isinstance(getattr(t.task_spec, "event_definition", None), MessageEventDefinition)
            and t.task_spec.event_definition.name == name
        ]

    def deliver_message(self, workflow: BpmnWorkflow, task_id: str, name: str, data: dict[str, Any]) -> None:
        """Give a waiting catch event its message; the data becomes the case variable named after the message."""
        assert_sandboxed(workflow)
        task, _ = lookup_task(workflow, UUID(task_id))
        definition = getattr(task.task_spec, "event_definition", None) if task is not None else None
        if task is None or task.state != TaskState.WAITING or getattr(definition, "name", None) != name:
            raise Conflict(f"the case no longer waits for message {name!r} at that event")
        with self._translated_errors(task):
            workflow.catch(BpmnEvent(definition, payload={"payload": data, "result_var": name}))
        self.advance(workflow)

    def timer_value(self, expression: str) -> str:
        """A timer expression's value outside any case: `"R/P3M"`, `${...}`, or (Camunda style) bare `R/P3M`."""
        _, body = _strip_expression(expression)
        try:
            return str(self.script_engine.environment.evaluate(body, {}))
        except ScriptError:
            if re.fullmatch(r"[RP0-9][0-9A-Za-z:./+\-]*", body.strip()):
                return body.strip()
            raise

    def start_on_timer(self, compiled: CompiledProcess) -> BpmnWorkflow:
        """A new case whose timer start event fires now, once (its schedule is the platform's job)."""
        assert compiled.start_timer is not None
        element_id, kind, _ = compiled.start_timer
        workflow = self.new_workflow(compiled, {})
        past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        for task in workflow.tasks.values():
            if task.task_spec.bpmn_id == element_id:
                task.internal_data["event_value"] = (
                    {"cycles": 1, "next": past, "duration": 0.0} if kind == "cycle" else past)
        self.advance(workflow)
        for _ in range(2):  # a cycle fires by adding a branch, then completes on the next refresh
            with self._translated_errors():
                workflow.refresh_timers()
            self.advance(workflow)
        return workflow

    def reschedule_timer(self, workflow: BpmnWorkflow, element_id: str, when: datetime) -> None:
        """Make the waiting timer event `element_id` due at `when` instead."""
        for task in workflow.get_tasks(state=TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            if task.task_spec.bpmn_id == element_id and isinstance(definition, TimerEventDefinition):
                value = task.internal_data.get("event_value")
                if isinstance(value, dict):  # a cycle: move its next occurrence
                    task.internal_data["event_value"] = {**value, "next": when.isoformat()}
                else:
                    task.internal_data["event_value"] = when.isoformat()
                return
        raise Conflict(f"the case does not wait on a timer at {element_id!r}")

    def fire_due_timers(self, workflow: BpmnWorkflow) -> list[FiredTimer]:
        """Let every due timer fire and run the case on; the element ids of the timers that fired."""
        assert_sandboxed(workflow)
        before = {t.id: (t, len(t._children)) for t in workflow.get_tasks(state=TaskState.WAITING)
                  if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)}
        with self._translated_errors():
            workflow.refresh_timers()
        # a cycle timer stays waiting and fires by adding a branch
        fired = [FiredTimer(t.task_spec.bpmn_id or t.task_spec.name, bool(getattr(t.task_spec, "cancel_activity", False)),
                            _attached_task_id(t))
                 for t, children in before.values()
                 if t.state != TaskState.WAITING or t.internal_data.get("event_fired") or len(t._children) > children]
        self.advance(workflow)
        return fired

    def cancel(self, workflow: BpmnWorkflow) -> None:
        assert_sandboxed(workflow)
        with self._translated_errors():
            workflow.cancel()

    # -- reading --------------------------------------------------------------

    def inspect(self, workflow: BpmnWorkflow, snapshot: Snapshot, known_open: set[str], now: datetime) -> StepOutcome:
        """Diff against the last write and describe the case after a step."""
        changes = diff(workflow, snapshot)
        outcome = StepOutcome(changes=changes)
        active: set[str] = set()
        pending_data: dict[str, Any] = {}  # from tasks people work on
        waiting_data: dict[str, Any] = {}  # from events the case waits for (theirs is older)
        top_unfinished = False
        for task_id in snapshot.unfinished:
            task, wf_id = lookup_task(workflow, task_id)
            if task is None:
                continue
            top_unfinished = top_unfinished or wf_id == ""
            state = task.state
            if not state & (TaskState.READY | TaskState.WAITING | TaskState.STARTED):
                continue
            if task.task_spec.bpmn_id is not None:
                active.add(task.task_spec.bpmn_id)
            if state == TaskState.READY and task.task_spec.manual:
                tid = id_text(task.id)
                outcome.open_user_task_ids.add(tid)
                pending_data.update(task.data)
                if tid not in known_open:
                    outcome.new_user_tasks.append(self._describe_user_task(task, now))
            elif state == TaskState.WAITING:
                waiting_data.update(task.data)
                definition = getattr(task.task_spec, "event_definition", None)
                if isinstance(definition, MessageEventDefinition):
                    outcome.message_waits[str(task.id)] = definition.name
                due = _timer_due(task, definition)
                if due is not None:
                    outcome.timer_waits[str(task.id)] = (task.task_spec.bpmn_id or task.task_spec.name, due)
        outcome.new_user_tasks.sort(key=lambda t: t.element_id)
        outcome.active_elements = sorted(active)
        outcome.newly_completed_elements = self._newly_completed(workflow, changes)
        outcome.completed = bool(workflow.completed) or (not top_unfinished and workflow.is_completed())
        if outcome.completed:
            outcome.data = convert_data(workflow.data or (workflow.last_task.data if workflow.last_task else {}))
        elif pending_data or waiting_data:
            outcome.data = convert_data({**waiting_data, **pending_data})
        else:
            last = workflow.last_task
            outcome.data = convert_data(last.data if last is not None else {})
        outcome.max_depth = snapshot.max_depth
        if snapshot.max_depth > self.max_task_depth:
            deepest = snapshot.deepest_element or "?"
            raise EngineError(
                f"loop limit reached: the case's task tree is {snapshot.max_depth} tasks deep at element "
                f"'{deepest}', more than the configured limit of {self.max_task_depth} "
                "(OPSFLOW_MAX_TASK_DEPTH). The step was stopped rather than let the case stall.",
                element_id=snapshot.deepest_element,
            )
        return outcome

    @staticmethod
    def _newly_completed(workflow: BpmnWorkflow, changes: StateChanges) -> list[str]:
        # the tasks of the rows diff wrote, inserts then updates (the order of the rows)
        return [task.task_spec.bpmn_id for task in changes.written
                if task.state == TaskState.COMPLETED and task.task_spec.bpmn_id]

    def _describe_user_task(self, task: Task, now: datetime) -> ReadyUserTask:
        spec = task.task_spec
        assignment = getattr(spec, "assignment", None)
        form_key = getattr(getattr(spec, "form", None), "key", None)
        if not isinstance(spec, OpsflowUserTask) or assignment is None:
            return ReadyUserTask(
                id_text(task.id),
                spec.bpmn_id,
                spec.bpmn_name or spec.bpmn_id,
                form_key,
                spec.lane,
                None,
                [],
                [spec.lane] if spec.lane else [],
                None,
                50,
                {},
            )
        assignee = self._attribute(task, assignment.assignee)
        users = _as_list(self._attribute(task, assignment.candidate_users))
        groups = _as_list(self._attribute(task, assignment.candidate_groups))
        if not (assignee or users or groups):
            lane_group = assignment.lane_id or assignment.lane_name
            groups = [lane_group] if lane_group else []
        priority_value = self._attribute(task, assignment.priority)
        try:
            priority = int(priority_value) if priority_value not in (None, "") else 50
        except (TypeError, ValueError) as exc:
            raise ScriptError(
                f"priority must be a whole number, got {priority_value!r}", element_id=spec.bpmn_id
            ) from exc
        try:
            due_at = _as_due(self._attribute(task, assignment.due_date), now)
        except ValueError as exc:
            raise ScriptError(f"dueDate: {exc}", element_id=spec.bpmn_id) from exc
        return ReadyUserTask(
            task_id=id_text(task.id),
            element_id=spec.bpmn_id,
            name=spec.bpmn_name or spec.bpmn_id,
            form_key=assignment.form_key or form_key,
            lane=assignment.lane_id or assignment.lane_name,
            assignee=str(assignee) if assignee else None,
            candidate_users=users,
            candidate_groups=groups,
            due_at=due_at,
            priority=priority,
            properties=dict(assignment.properties),
        )

    def _attribute(self, task: Task, raw: str | None) -> Any:
        """A Camunda attribute: literal text, or `${expr}` evaluated in the sandbox."""
        if raw is None:
            return None
        is_expression, body = _strip_expression(raw)
        if not is_expression:
            return raw
        return self.script_engine.evaluate(task, body)

    # -- errors ---------------------------------------------------------------

    class _translated_errors:
        """Map SpiffWorkflow and interpreter failures to ScriptError / EngineError."""

        def __init__(self, task: Task | None = None) -> None:
            self.task = task

        def __enter__(self) -> None:
            return None

        def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
            if exc is None or isinstance(exc, OpsflowError) or not isinstance(exc, Exception):
                return False  # ours already (the sandbox raises ScriptError), or not an error to translate
            script_error = script_error_from(exc)
            if script_error is not None:
                raise script_error from exc
            if isinstance(exc, RecursionError):
                raise EngineError(
                    "the case's task tree is too deep for the engine (a loop ran too many rounds)"
                ) from exc
            if isinstance(exc, WorkflowException | SpiffWorkflowException):
                raise EngineError(str(exc), element_id=self._element_of(exc)) from exc
            # Anything else SpiffWorkflow raised (a bare Exception for a bad duration, an AttributeError from
            # its own code) is a failure of this step too: rolled back and recorded as an incident, never a
            # bare 500 or a dead worker.
            raise EngineError(f"the engine could not run this step: {type(exc).__name__}: {exc}",
                              element_id=self._element_of(exc)) from exc

        def _element_of(self, exc: Exception) -> str | None:
            spec = getattr(exc, "task_spec", None) or getattr(getattr(exc, "task", None), "task_spec", None)
            if spec is None and self.task is not None:
                spec = self.task.task_spec
            return getattr(spec, "bpmn_id", None)
