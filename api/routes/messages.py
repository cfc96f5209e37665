"""Messages: delivered to the case that waits for them, or starting one."""

from __future__ import annotations

from typing import Any

from ..extensions import services
from ..parsing import Blueprint
from ..schemas.messages import MessageHeaders, MessageResultSchema, MessageSchema
from ..security import current_actor

blp = Blueprint("messages", __name__, url_prefix="/api", description="Messages from outside systems")


@blp.route("/messages", methods=["POST"])
@blp.arguments(MessageSchema)
@blp.arguments(MessageHeaders, location="headers")
@blp.response(202, MessageResultSchema)
def deliver(body: dict[str, Any], headers: dict[str, Any]) -> Any:
    """Deliver a message to the one waiting case it correlates with, or start a case on a message start event.

    404 when nothing waits for it; 409 when several cases correlate; a retry with the same
    `Idempotency-Key` header gets the first answer and has no further effect.
    """
    return services().engine.messages.deliver(body["name"], body["correlation"], body["data"], current_actor(),
                                              idempotency_key=headers.get("idempotency_key"))
