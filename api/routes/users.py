"""Administration: users and groups."""

from __future__ import annotations

from typing import Any

from ..extensions import services
from ..parsing import Blueprint
from ..schemas.users import GroupSchema, NewUserSchema, UserChangeSchema, UserListArgs, UserPageSchema, UserSchema
from ..security import current_actor

blp = Blueprint("users", __name__, url_prefix="/api", description="Users and groups (admins)")


@blp.route("/users", methods=["GET"])
@blp.arguments(UserListArgs, location="query")
@blp.response(200, UserPageSchema)
def list_users(args: dict[str, Any]) -> Any:
    """Users by name (admins)."""
    return services().identity.list_users(current_actor(), **args)


@blp.route("/users", methods=["POST"])
@blp.arguments(NewUserSchema)
@blp.response(201, UserSchema)
@blp.alt_response(409, response="CONFLICT")
def create_user(body: dict[str, Any]) -> Any:
    """Create a user with groups and roles (admins)."""
    return services().identity.create_user(actor=current_actor(), **body)


@blp.route("/users/<username>", methods=["GET"])
@blp.response(200, UserSchema)
def get_user(username: str) -> Any:
    """One user (admins; anyone for themselves)."""
    return services().identity.get_user_as(username, current_actor())


@blp.route("/users/<username>", methods=["PATCH"])
@blp.arguments(UserChangeSchema)
@blp.response(200, UserSchema)
def change_user(body: dict[str, Any], username: str) -> Any:
    """Change groups, roles, active (deactivating revokes all tokens), display name, language or password."""
    return services().identity.update_user(username, current_actor(), **body)


@blp.route("/groups", methods=["GET"])
@blp.response(200, GroupSchema(many=True))
def list_groups() -> Any:
    """The org chart's groups with their member counts."""
    return services().identity.list_groups()
