"""Notices: new tasks for you or your groups, deadlines near or passed."""

from __future__ import annotations

from typing import Any

from ..extensions import services
from ..parsing import Blueprint
from ..schemas.common import PagingArgs
from ..schemas.notifications import NotificationPageSchema
from ..security import current_actor

blp = Blueprint("notifications", __name__, url_prefix="/api", description="Notices for you and your groups")


@blp.route("/notifications", methods=["GET"])
@blp.arguments(PagingArgs, location="query")
@blp.response(200, NotificationPageSchema)
def list_notifications(args: dict[str, Any]) -> Any:
    """Notices for you and your groups, newest first."""
    return services().engine.notifications.for_actor(current_actor(), page=args["page"], per_page=args["per_page"])
