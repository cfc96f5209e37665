"""Inbox queries, answered from the human_task table alone (never by loading workflows)."""

from __future__ import annotations

from sqlalchemy import or_, select

from .access import offered_to
from .db.models import HumanTask
from .db.paging import page_of
from .db.session import Database
from .presenters import task_view
from .views import Actor, Page, TaskState, TaskView

SORTS = {
    "due": (HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at),
    "priority": (HumanTask.priority.desc(), HumanTask.created_at),
    "created": (HumanTask.created_at.desc(),),
}


class InboxService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def query(
        self,
        actor: Actor,
        *,
        mine: bool = False,
        candidate: bool = False,
        state: str | None = None,
        key: str | None = None,
        q: str | None = None,
        sort: str = "created",
        page: int = 1,
        per_page: int = 25,
    ) -> Page[TaskView]:
        """Tasks assigned to the actor (`mine`), offered to them or their groups (`candidate`), or both."""
        stmt = select(HumanTask)
        mine_clause = HumanTask.assignee == actor.username
        offered_clause = HumanTask.assignee.is_(None) & offered_to(actor)
        if mine and not candidate:
            stmt = stmt.where(mine_clause)
        elif candidate and not mine:
            stmt = stmt.where(offered_clause)
        else:
            stmt = stmt.where(or_(mine_clause, offered_clause))
        if state:
            stmt = stmt.where(HumanTask.state == state)
        else:
            stmt = stmt.where(HumanTask.state.in_([TaskState.OPEN, TaskState.CLAIMED]))
        if key:
            stmt = stmt.where(HumanTask.process_key == key)
        if q:
            escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            stmt = stmt.where(
                or_(HumanTask.name.ilike(pattern, escape="\\"), HumanTask.business_key.ilike(pattern, escape="\\"))
            )
        order = SORTS.get(sort, SORTS["created"])
        with self.db.reading() as session:
            return page_of(session, stmt, (*order, HumanTask.id), page, per_page, task_view)

    def counts(self, actor: Actor) -> dict[str, int]:
        """Open task counts for the inbox tabs."""
        return {
            "mine": self.query(actor, mine=True, per_page=1).total,
            "candidate": self.query(actor, candidate=True, per_page=1).total,
        }
