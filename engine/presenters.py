"""Rows to views."""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from .db.fast import FastSQL
from .records import open_tasks
from .runtime.state import restore_data
from .views import InstanceState, InstanceView, TaskState, TaskView


def task_view(row: Any) -> TaskView:
    """A human_task row (a fetched Row, an ORM object or a Core row) as a view."""
    # A Row is a dict: item access is ~10x cheaper than its attribute access, and this runs for every
    # open task of every step's answer.
    get: Any = row.__getitem__ if isinstance(row, dict) else partial(getattr, row)
    return TaskView(
        id=get("id"),
        instance_id=get("instance_id"),
        key=get("process_key"),
        definition_id=get("definition_id"),
        element_id=get("element_id"),
        name=get("name"),
        form_key=get("form_key"),
        lane=get("lane"),
        assignee=get("assignee"),
        candidate_users=list(get("candidate_users") or []),
        candidate_groups=list(get("candidate_groups") or []),
        due=get("due_at"),
        priority=get("priority"),
        state=TaskState(get("state")),
        created=get("created_at"),
        business_key=get("business_key"),
        completed_by=get("completed_by"),
        completed_at=get("completed_at"),
        properties=dict(get("properties") or {}),
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
