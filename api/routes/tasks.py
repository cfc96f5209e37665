"""The inbox: list, read with its form, claim, unclaim, assign, complete."""

from __future__ import annotations

from typing import Any

from ..extensions import services
from ..parsing import Blueprint
from ..queries import assign_task, task_detail
from ..schemas.instances import InstanceSchema
from ..schemas.tasks import AssignSchema, CompleteSchema, TaskDetailSchema, TaskListArgs, TaskPageSchema, TaskSchema
from ..security import current_actor, current_language

blp = Blueprint("tasks", __name__, url_prefix="/api/tasks", description="The task inbox")


@blp.route("", methods=["GET"])
@blp.arguments(TaskListArgs, location="query")
@blp.response(200, TaskPageSchema)
def list_tasks(args: dict[str, Any]) -> Any:
    """Tasks assigned to you (mine=1), offered to you or your groups (candidate=1), or both."""
    return services().engine.inbox.query(current_actor(), **args)


@blp.route("/<task_id>", methods=["GET"])
@blp.response(200, TaskDetailSchema)
def get_task(task_id: str) -> dict[str, Any]:
    """The task, its form (a JSON Schema in your language) and the case's current data."""
    return task_detail(services().engine, task_id, current_actor(), current_language())


@blp.route("/<task_id>/claim", methods=["POST"])
@blp.response(200, TaskSchema)
def claim(task_id: str) -> Any:
    """Take a task offered to you or your groups; 409 when someone else has it."""
    return services().engine.tasks.claim(task_id, current_actor())


@blp.route("/<task_id>/unclaim", methods=["POST"])
@blp.response(200, TaskSchema)
def unclaim(task_id: str) -> Any:
    """Give a claimed task back to its candidates."""
    return services().engine.tasks.unclaim(task_id, current_actor())


@blp.route("/<task_id>/assign", methods=["POST"])
@blp.arguments(AssignSchema)
@blp.response(200, TaskSchema)
def assign(body: dict[str, Any], task_id: str) -> Any:
    """Give a task to a named user (admins)."""
    return assign_task(services(), task_id, body["user"], current_actor())


@blp.route("/<task_id>/complete", methods=["POST"])
@blp.arguments(CompleteSchema)
@blp.response(200, InstanceSchema)
def complete(body: dict[str, Any], task_id: str) -> Any:
    """Complete a task with its form's data; answers the case's new state.

    422 with per-field errors (in your language) when the form does not validate; 409 when the task is no
    longer open; 403 when you may not complete it (not yours, or separation of duties).
    """
    return services().engine.tasks.complete(task_id, body["data"], current_actor(), language=current_language())
