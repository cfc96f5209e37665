"""Identity tables: users, groups, roles, API tokens and failed logins (migration 0002), known origins (0008)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db.models import Base
from engine.db.types import JSONType, UTCDateTime


class User(Base):
    """A person who signs in. `app_user` because `user` is reserved in PostgreSQL."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[Any] = mapped_column(JSONType)  # {"zh": .., "en": ..}
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str | None] = mapped_column(String(10))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Group(Base):
    """An org-chart unit; its key is the BPMN candidateGroups value and lane id."""

    __tablename__ = "user_group"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[Any] = mapped_column(JSONType)
    parent_key: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[Any] = mapped_column(JSONType)
    org_roles: Mapped[list[str]] = mapped_column(JSONType)  # descriptive ("manager", "leader"), not permissions
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RoleDefinition(Base):
    """A role name a user may hold; the four system roles are seeded by the migration."""

    __tablename__ = "role"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    system: Mapped[bool] = mapped_column(Boolean)


class UserGroup(Base):
    __tablename__ = "user_group_member"
    __table_args__ = (Index("ix_user_group_member_group", "group_key"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    group_key: Mapped[str] = mapped_column(ForeignKey("user_group.key", ondelete="CASCADE"), primary_key=True)


class UserRole(Base):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    role_name: Mapped[str] = mapped_column(ForeignKey("role.name", ondelete="CASCADE"), primary_key=True)


class ApiToken(Base):
    """A bearer or session credential, stored as the SHA-256 of a high-entropy random secret."""

    __tablename__ = "api_token"
    __table_args__ = (Index("ix_api_token_user", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # "bearer" | "session"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(200))


class LoginFailure(Base):
    """One failed sign-in; counted per account and address, per account and per address in the window."""

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_username", "username", "occurred_at"),
        Index("ix_login_failure_address", "address", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginOrigin(Base):
    """Where an account last signed in successfully from (an address, or an IPv6 /64): failures from
    elsewhere do not refuse its owner there (engine.identity.authn)."""

    __tablename__ = "login_origin"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    origin: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_success_at: Mapped[datetime] = mapped_column(UTCDateTime)
