"""Users, groups and roles: the org chart, creating and changing users (admin work, audited)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from engine.audit import AuditLog
from engine.db.session import Database
from engine.db.types import utcnow
from engine.errors import Conflict, PermissionDenied, ValidationFailed
from engine.views import Actor, AuditType, Page, Role

from .credentials import Passwords, password_problems
from .models import Group, RoleDefinition, User, UserGroup, UserRole
from .rows import load_view, memberships, require_user, user_view
from .views import DemoUser, GroupView, OrgChartResult, UserView

USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")
SYSTEM_ROLES = [str(r) for r in Role]


def _require_admin(actor: Actor, what: str) -> None:
    if not actor.has_role(Role.ADMIN):
        raise PermissionDenied(f"{what} needs the admin role")


def read_org_chart(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text("utf-8"))  # type: ignore[no-any-return]


class Directory:
    db: Database
    audit: AuditLog
    passwords: Passwords

    # -- org chart -----------------------------------------------------------

    def load_org_chart(self, path: str | Path, actor: Actor | None = None) -> OrgChartResult:
        """Upsert the chart's groups and the role names its users hold; idempotent, audited when it changes."""
        actor = actor or Actor.system()
        _require_admin(actor, "loading the org chart")
        chart = read_org_chart(path)
        created, updated, roles_added = [], [], []
        now = utcnow()
        with self.db.transaction() as session:
            known_roles = set(session.execute(select(RoleDefinition.name)).scalars())
            wanted = {r for u in chart.get("demo_users", []) for r in u.get("roles", [])}
            for name in sorted(wanted - known_roles):
                session.add(RoleDefinition(name=name, system=False))
                roles_added.append(name)
            for spec in chart.get("groups", []):
                values = {
                    "name": spec.get("name") or {},
                    "parent_key": spec.get("parent"),
                    "description": spec.get("description"),
                    "org_roles": list(spec.get("roles", [])),
                }
                row = session.get(Group, spec["key"])
                if row is None:
                    session.add(Group(key=spec["key"], updated_at=now, **values))
                    created.append(spec["key"])
                elif any(getattr(row, k) != v for k, v in values.items()):
                    for k, v in values.items():
                        setattr(row, k, v)
                    row.updated_at = now
                    updated.append(spec["key"])
            if created or updated or roles_added:
                self.audit.record(
                    session,
                    AuditType.GROUP_CHANGED,
                    actor=actor.username,
                    data={
                        "source": Path(path).name,
                        "created": created,
                        "updated": updated,
                        "roles_added": roles_added,
                    },
                )
        return OrgChartResult(created, updated, roles_added)

    @staticmethod
    def demo_users(path: str | Path) -> list[DemoUser]:
        """The chart's demo users; anyone without a system role gets `staff`."""
        users = []
        for spec in read_org_chart(path).get("demo_users", []):
            roles = list(spec.get("roles", []))
            if not set(roles) & set(SYSTEM_ROLES):
                roles.append(str(Role.STAFF))
            users.append(
                DemoUser(spec["username"], list(spec.get("groups", [])), roles, dict(spec.get("display_name") or {}))
            )
        return users

    # -- users -----------------------------------------------------------------

    def create_user(
        self,
        username: str,
        password: str | None,
        *,
        groups: list[str] | tuple[str, ...] = (),
        roles: list[str] | tuple[str, ...] = (),
        display_name: dict[str, str] | None = None,
        language: str | None = None,
        email: str | None = None,
        actor: Actor | None = None,
    ) -> UserView:
        """A new active user. Raises PermissionDenied, Conflict (exists), ValidationFailed."""
        actor = actor or Actor.system()
        _require_admin(actor, "creating users")
        errors: dict[str, list[str]] = {}
        if not username or len(username) > 200 or not set(username) <= USERNAME_CHARS:
            errors["username"] = ["use 1-200 letters, digits and . _ - @"]
        if email is not None and (len(email) > 320 or "@" not in email or any(c.isspace() for c in email)):
            errors["email"] = ["not an email address"]
        if password is not None and password_problems(password):
            errors["password"] = password_problems(password)
        if errors:
            raise ValidationFailed("the user cannot be created", errors)
        hashed = self.passwords.hash(password) if password is not None else None
        now = utcnow()
        with self.db.transaction() as session:
            self._check_names(session, groups, roles)
            if session.execute(select(User.id).where(User.username == username)).first() is not None:
                raise Conflict(f"user {username!r} already exists")
            user = User(
                username=username,
                display_name=display_name or {},
                password_hash=hashed,
                active=True,
                language=language,
                email=email,
                created_at=now,
                updated_at=now,
            )
            session.add(user)
            session.flush()
            self._set_memberships(session, user.id, groups, roles)
            self.audit.record(
                session,
                AuditType.USER_CREATED,
                actor=actor.username,
                data={"username": username, "groups": sorted(groups), "roles": sorted(roles)},
            )
            return load_view(session, user)

    def update_user(
        self,
        username: str,
        actor: Actor,
        *,
        groups: list[str] | None = None,
        roles: list[str] | None = None,
        active: bool | None = None,
        display_name: dict[str, str] | None = None,
        password: str | None = None,
        language: str | None = None,
    ) -> UserView:
        """Change a user (admins). Deactivating or a new password revokes their tokens and sessions.

        Raises NotFound, ValidationFailed."""
        _require_admin(actor, "changing users")
        if password is not None and password_problems(password):
            raise ValidationFailed("the password is too weak", {"password": password_problems(password)})
        if active is False and username == actor.username:
            raise ValidationFailed("you cannot deactivate yourself", {"active": ["you cannot deactivate yourself"]})
        hashed = self.passwords.hash(password) if password is not None else None
        with self.db.transaction() as session:
            user = require_user(session, username, lock=True)
            self._check_names(session, groups or [], roles or [])
            before = load_view(session, user)
            changes: dict[str, Any] = {}
            if groups is not None or roles is not None:
                self._set_memberships(
                    session,
                    user.id,
                    groups if groups is not None else before.groups,
                    roles if roles is not None else before.roles,
                    replace=True,
                )
                changes.update({k: sorted(v) for k, v in (("groups", groups), ("roles", roles)) if v is not None})
            for name, value in (("active", active), ("display_name", display_name), ("language", language)):
                if value is not None and getattr(user, name) != value:
                    setattr(user, name, value)
                    changes[name] = value
            if hashed is not None:
                user.password_hash = hashed
                changes["password_changed"] = True
            if active is False or hashed is not None:  # a new password also ends what the old one opened
                self.revoke_all(session, user.id, actor.username)  # type: ignore[attr-defined]
            user.updated_at = utcnow()
            self.audit.record(
                session, AuditType.USER_CHANGED, actor=actor.username, data={"username": username, "changes": changes}
            )
            return load_view(session, user)

    def set_language(self, username: str, language: str, actor: Actor) -> UserView:
        """A user's own choice of language for pages and messages. Raises PermissionDenied, ValidationFailed."""
        if username != actor.username:
            _require_admin(actor, "changing another user's language")
        if language not in ("zh", "en"):
            raise ValidationFailed("unknown language", {"language": ["choose zh or en"]})
        with self.db.transaction() as session:
            user = require_user(session, username, lock=True)
            user.language = language
            user.updated_at = utcnow()
            return load_view(session, user)

    def display_names(self, usernames: list[str] | set[str]) -> dict[str, dict[str, str]]:
        """The {zh, en} display names of those of `usernames` that are users and have one (pages show people)."""
        if not usernames:
            return {}
        with self.db.reading() as session:
            rows = session.execute(select(User.username, User.display_name).where(User.username.in_(list(usernames))))
            return {name: dict(display) for name, display in rows if display}

    def get_user(self, username: str) -> UserView:
        with self.db.reading() as session:
            return load_view(session, require_user(session, username))

    def get_user_as(self, username: str, actor: Actor) -> UserView:
        """A user, for admins or the user themselves. Raises PermissionDenied, NotFound."""
        if username != actor.username:
            _require_admin(actor, "reading other users")
        return self.get_user(username)

    def list_users(self, actor: Actor, *, q: str | None = None, page: int = 1, per_page: int = 50) -> Page[UserView]:
        _require_admin(actor, "listing users")
        with self.db.reading() as session:
            stmt = select(User)
            if q:
                stmt = stmt.where(User.username.contains(q, autoescape=True))
            total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
            users = list(
                session.execute(stmt.order_by(User.username).limit(per_page).offset((page - 1) * per_page)).scalars()
            )
            groups, roles = memberships(session, [u.id for u in users])
            return Page([user_view(u, groups[u.id], roles[u.id]) for u in users], total, page, per_page)

    def list_groups(self) -> list[GroupView]:
        with self.db.reading() as session:
            counts = dict(
                session.execute(select(UserGroup.group_key, func.count()).group_by(UserGroup.group_key)).all()
            )
            return [
                GroupView(
                    g.key,
                    dict(g.name or {}),
                    g.parent_key,
                    g.description,
                    list(g.org_roles or []),
                    counts.get(g.key, 0),
                )
                for g in session.execute(select(Group).order_by(Group.key)).scalars()
            ]

    def list_roles(self) -> list[str]:
        with self.db.reading() as session:
            return list(session.execute(select(RoleDefinition.name).order_by(RoleDefinition.name)).scalars())

    @staticmethod
    def _check_names(session: Session, groups: list[str] | tuple[str, ...], roles: list[str] | tuple[str, ...]) -> None:
        errors: dict[str, list[str]] = {}
        known_groups = set(session.execute(select(Group.key).where(Group.key.in_(list(groups)))).scalars())
        if missing := sorted(set(groups) - known_groups):
            errors["groups"] = [f"unknown group {g!r}" for g in missing]
        known_roles = set(session.execute(select(RoleDefinition.name)).scalars())
        if missing := sorted(set(roles) - known_roles):
            errors["roles"] = [f"unknown role {r!r}; known: {', '.join(sorted(known_roles))}" for r in missing]
        if errors:
            raise ValidationFailed("unknown groups or roles", errors)

    @staticmethod
    def _set_memberships(
        session: Session,
        user_id: int,
        groups: list[str] | tuple[str, ...],
        roles: list[str] | tuple[str, ...],
        *,
        replace: bool = False,
    ) -> None:
        if replace:
            session.execute(delete(UserGroup).where(UserGroup.user_id == user_id))
            session.execute(delete(UserRole).where(UserRole.user_id == user_id))
        if groups:
            session.execute(insert(UserGroup), [{"user_id": user_id, "group_key": g} for g in sorted(set(groups))])
        if roles:
            session.execute(insert(UserRole), [{"user_id": user_id, "role_name": r} for r in sorted(set(roles))])
