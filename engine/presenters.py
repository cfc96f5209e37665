"""Rows to views."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .db.fast import FastSQL
from .records import open_tasks
from .runtime.state import restore_data
from .views import InstanceState, InstanceView, TaskState, TaskView


def task_view(row: Any) -> TaskView:
    """A human_task row (ORM object or Core row) as a view."""
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


def instance_view(fast: FastSQL, session: Session, row: Any, version: int, open_rows: list[Any] | None = None
                  ) -> InstanceView:
    """A case row (CaseRecord or ORM object) with its open tasks (`open_rows`, when the caller knows them)."""
    tasks = open_rows if open_rows is not None else open_tasks(fast, session, row.id)
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
        open_tasks=[task_view(t) for t in tasks],
        completed_element_ids=list(row.completed_elements or []),
        active_element_ids=list(row.active_elements or []),
        row_version=row.version,
    )
