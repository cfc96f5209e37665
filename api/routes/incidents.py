"""Incidents: failures recorded on cases (admins)."""

from __future__ import annotations

from typing import Any

from ..extensions import services
from ..parsing import Blueprint
from ..schemas.incidents import IncidentListArgs, IncidentPageSchema, IncidentSchema, ResolveSchema
from ..security import current_actor

blp = Blueprint("incidents", __name__, url_prefix="/api", description="Incidents (admins)")


@blp.route("/incidents", methods=["GET"])
@blp.arguments(IncidentListArgs, location="query")
@blp.response(200, IncidentPageSchema)
def list_incidents(args: dict[str, Any]) -> Any:
    """Incidents, newest first; `state=open` (default) or `resolved`."""
    return services().engine.incidents.list(current_actor(), state=args["state"], instance_id=args.get("instance_id"),
                                            process_key=args.get("key"), page=args["page"],
                                            per_page=args["per_page"])


@blp.route("/incidents/<int:incident_id>/retry", methods=["POST"])
@blp.response(200, IncidentSchema)
def retry(incident_id: int) -> Any:
    """Queue the failed background job again; audited."""
    return services().engine.incidents.retry(incident_id, current_actor())


@blp.route("/incidents/<int:incident_id>/resolve", methods=["POST"])
@blp.arguments(ResolveSchema)
@blp.response(200, IncidentSchema)
def resolve(body: dict[str, Any], incident_id: int) -> Any:
    """Mark an incident dealt with; audited."""
    return services().engine.incidents.resolve(incident_id, current_actor(), body.get("comment"))
