"""Who may see and act on cases and tasks. Pure rules over rows; raising PermissionDenied."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select, union
from sqlalchemy.orm import Session

from .db.models import HumanTask, ProcessInstance, TaskCandidate
from .errors import PermissionDenied
from .views import Actor, Role, TaskState

SOD_PROPERTY = "separation_of_duties"
STARTER = "starter"


def sees_everything(actor: Actor) -> bool:
    return actor.has_role(Role.AUDITOR, Role.ADMIN)


OPEN_STATES = (TaskState.OPEN, TaskState.CLAIMED)


def _candidate_user(actor: Actor) -> ColumnElement[bool]:
    return (TaskCandidate.kind == "user") & (TaskCandidate.name == actor.username)


def _candidate_group(actor: Actor) -> ColumnElement[bool]:
    return (TaskCandidate.kind == "group") & TaskCandidate.name.in_(sorted(actor.groups) or [""])


def offered_to(actor: Actor) -> ColumnElement[bool]:
    """SQL: the human task is offered to the actor (as a candidate user or through a group)."""
    return exists(
        select(TaskCandidate.task_id).where(
            TaskCandidate.task_id == HumanTask.id, or_(_candidate_user(actor), _candidate_group(actor))
        )
    )


def took_part(actor: Actor) -> ColumnElement[bool]:
    """SQL: the actor started the case, was assigned one of its tasks, or has one of its open tasks offered.

    Whoever completes a task is its assignee from then on (TaskService.complete), so completed tasks are
    found by the assignee. Written as a union of lookups that each have their index (started_by, assignee,
    candidate): the cases are found from the actor, not by reading every case and probing its tasks. To test
    one case, `check_can_see_case` uses the same rule correlated to that case."""
    offered = select(HumanTask.instance_id).join(TaskCandidate, TaskCandidate.task_id == HumanTask.id).where(
        HumanTask.state.in_(OPEN_STATES))
    involved = union(
        select(ProcessInstance.id).where(ProcessInstance.started_by == actor.username),
        select(HumanTask.instance_id).where(HumanTask.assignee == actor.username),
        offered.where(_candidate_user(actor)),  # one branch each: each is a lookup of the candidate index
        offered.where(_candidate_group(actor)),
    )
    return ProcessInstance.id.in_(involved)


def _took_part_in_this_case(actor: Actor) -> ColumnElement[bool]:
    """`took_part` for a case already chosen: the same rule, correlated, so it reads only that case's tasks
    (the union above would gather every case of the actor's groups to test one)."""
    return or_(
        ProcessInstance.started_by == actor.username,
        exists(select(HumanTask.id).where(
            HumanTask.instance_id == ProcessInstance.id,
            or_(HumanTask.assignee == actor.username,
                HumanTask.state.in_(OPEN_STATES) & offered_to(actor)),
        )),
    )


def check_can_see_case(session: Session, row: Any, actor: Actor) -> None:
    if sees_everything(actor):
        return
    visible = session.execute(
        select(ProcessInstance.id).where(ProcessInstance.id == row.id, _took_part_in_this_case(actor))
    ).scalar_one_or_none()
    if visible is None:
        raise PermissionDenied("you may only see cases you started or took part in", reason="case_not_visible")


def is_candidate(task: Any, actor: Actor) -> bool:
    return actor.username in (task.candidate_users or []) or bool(
        actor.groups.intersection(task.candidate_groups or [])
    )


def check_can_claim(task: Any, actor: Actor) -> None:
    if task.assignee == actor.username:
        return
    if not is_candidate(task, actor):
        raise not_offered(task)


def not_offered(task: Any) -> PermissionDenied:
    return PermissionDenied(f"task '{task.name}' is not offered to you or your groups", reason="task_not_offered",
                            params={"name": task.name})


def check_can_complete(task: Any, actor: Actor) -> None:
    if task.assignee:
        if task.assignee != actor.username:
            raise PermissionDenied(f"task '{task.name}' is assigned to {task.assignee}", reason="task_assigned_to_other",
                                   params={"name": task.name, "assignee": task.assignee})
        return
    if not is_candidate(task, actor):
        raise not_offered(task)


def separation_of_duties_violation(session: Session, task: Any, row: Any, actor: Actor) -> PermissionDenied | None:
    """The refusal for the first separation-of-duties rule the actor would break, if any."""
    rule = (task.properties or {}).get(SOD_PROPERTY, "")
    names = [part.strip() for part in rule.split(",") if part.strip()]
    if not names:
        return None
    if STARTER in names and row.started_by == actor.username:
        return PermissionDenied(
            f"separation of duties ({SOD_PROPERTY}={rule}): you started this case, "
            f"so you may not complete '{task.name}'",
            reason="sod_started_case", params={"name": task.name},
        )
    elements = [n for n in names if n != STARTER]
    if not elements:
        return None
    done = session.execute(
        select(HumanTask.name, HumanTask.element_id).where(
            HumanTask.instance_id == row.id,
            HumanTask.element_id.in_(elements),
            HumanTask.completed_by == actor.username,
        )
    ).first()
    if done is not None:
        return PermissionDenied(
            f"separation of duties ({SOD_PROPERTY}={rule}): you completed '{done.name}' ({done.element_id}) "
            f"in this case, so you may not complete '{task.name}'",
            reason="sod_completed_earlier", params={"name": task.name, "earlier": done.name},
        )
    return None


def may_start(starter_groups: tuple[str, ...], starter_users: tuple[str, ...], actor: Actor) -> bool:
    """Camunda's candidateStarterGroups/Users: without either, anyone may start; admins always may."""
    if (not starter_groups and not starter_users) or actor.has_role(Role.ADMIN):
        return True
    return actor.username in starter_users or bool(actor.groups.intersection(starter_groups))


def check_can_start(key: str, starter_groups: tuple[str, ...], starter_users: tuple[str, ...],
                    actor: Actor) -> None:
    if not may_start(starter_groups, starter_users, actor):
        who = ", ".join([*starter_groups, *starter_users])
        raise PermissionDenied(f"only {who} may start {key}", reason="start_not_allowed",
                               params={"process_key": key, "starters": who})
