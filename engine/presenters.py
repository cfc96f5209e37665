"""Rows to views."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db.models import HumanTask, ProcessInstance
from .runtime.state import restore_data
from .views import InstanceState, InstanceView, TaskState, TaskView


def task_view(row: HumanTask) -> TaskView:
    return TaskView(
        id=row.id,
        instance_id=row.instance_id,
        key=row.process_key,
        definition_id=row.definition_id,
        element_id=row.element_id,
        name=row.name,
        form_key=row.form_key,
        lane=row.lane,
        assignee=row.assignee,
        candidate_users=list(row.candidate_users or []),
        candidate_groups=list(row.candidate_groups or []),
        due=row.due_at,
        priority=row.priority,
        state=TaskState(row.state),
        created=row.created_at,
        business_key=row.business_key,
        completed_by=row.completed_by,
        completed_at=row.completed_at,
        properties=dict(row.properties or {}),
    )


def instance_view(session: Session, row: ProcessInstance, version: int) -> InstanceView:
    open_tasks = session.execute(
        select(HumanTask)
        .where(HumanTask.instance_id == row.id, HumanTask.state.in_([TaskState.OPEN, TaskState.CLAIMED]))
        .order_by(HumanTask.created_at)
    ).scalars()
    return InstanceView(
        id=row.id,
        key=row.process_key,
        definition_id=row.definition_id,
        version=version,
        state=InstanceState(row.state),
        data=restore_data(row.data) if row.data is not None else {},
        business_key=row.business_key,
        started_by=row.started_by,
        started_at=row.started_at,
        ended_at=row.ended_at,
        open_tasks=[task_view(t) for t in open_tasks],
        completed_element_ids=list(row.completed_elements or []),
        active_element_ids=list(row.active_elements or []),
        row_version=row.version,
    )
