"""What the identity service returns: small frozen dataclasses, no ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.views import Actor


@dataclass(frozen=True)
class UserView:
    username: str
    display_name: dict[str, str]
    groups: list[str]
    roles: list[str]
    active: bool
    language: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class GroupView:
    key: str
    name: dict[str, str]
    parent: str | None
    description: dict[str, str] | None
    org_roles: list[str]
    members: int


@dataclass(frozen=True)
class IssuedToken:
    """A new credential; `token` is the only copy of the secret and is never stored."""

    id: int
    token: str
    kind: str
    username: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenView:
    id: int
    username: str
    kind: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the engine's Actor plus the credential that proved it."""

    actor: Actor
    user: UserView
    token_id: int
    kind: str


@dataclass(frozen=True)
class DemoUser:
    username: str
    groups: list[str]
    roles: list[str]
    display_name: dict[str, Any]


@dataclass(frozen=True)
class OrgChartResult:
    groups_created: list[str]
    groups_updated: list[str]
    roles_added: list[str]
