"""Reading identity rows into views (shared by the directory and the authenticator)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.views import Actor

from .models import User, UserGroup, UserRole
from .views import UserView


def find_user(session: Session, username: str, *, lock: bool = False) -> User | None:
    stmt = select(User).where(User.username == username)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def require_user(session: Session, username: str, *, lock: bool = False) -> User:
    user = find_user(session, username, lock=lock)
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def memberships(session: Session, user_ids: list[int]) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Groups and roles of several users in two queries."""
    groups: dict[int, list[str]] = defaultdict(list)
    roles: dict[int, list[str]] = defaultdict(list)
    if not user_ids:
        return groups, roles
    for uid, key in session.execute(
        select(UserGroup.user_id, UserGroup.group_key)
        .where(UserGroup.user_id.in_(user_ids))
        .order_by(UserGroup.group_key)
    ):
        groups[uid].append(key)
    for uid, name in session.execute(
        select(UserRole.user_id, UserRole.role_name).where(UserRole.user_id.in_(user_ids)).order_by(UserRole.role_name)
    ):
        roles[uid].append(name)
    return groups, roles


def user_view(user: User, groups: list[str], roles: list[str]) -> UserView:
    return UserView(
        username=user.username,
        display_name=dict(user.display_name or {}),
        groups=list(groups),
        roles=list(roles),
        active=user.active,
        language=user.language,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def load_view(session: Session, user: User) -> UserView:
    groups, roles = memberships(session, [user.id])
    return user_view(user, groups[user.id], roles[user.id])


def actor_of(view: UserView) -> Actor:
    return Actor(view.username, groups=frozenset(view.groups), roles=frozenset(view.roles))
