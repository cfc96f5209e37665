"""One page of a filtered query, with the total."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from engine.views import Page

T = TypeVar("T")


def page_of(session: Session, stmt: Select[Any], order_by: tuple[Any, ...], page: int, per_page: int,
            view: Callable[[Any], T]) -> Page[T]:
    """Count the matches, then fetch page `page` (1-based) in `order_by` order, each row through `view`."""
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(stmt.order_by(*order_by).limit(per_page).offset((page - 1) * per_page)).scalars()
    return Page([view(r) for r in rows], total, page, per_page)
