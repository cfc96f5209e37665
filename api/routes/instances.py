"""Cases: start, list, read, cancel, suspend, resume."""

from __future__ import annotations

from typing import Any

from ..extensions import services
from ..parsing import Blueprint
from ..schemas.instances import InstanceListArgs, InstancePageSchema, InstanceSchema, StartInstanceSchema
from ..security import current_actor, current_language

blp = Blueprint("instances", __name__, url_prefix="/api", description="Cases (process instances)")


@blp.route("/process-definitions/<key>/instances", methods=["POST"])
@blp.arguments(StartInstanceSchema)
@blp.response(201, InstanceSchema)
def start(body: dict[str, Any], key: str) -> Any:
    """Start a case on the latest version; 422 with per-field errors when the start form does not validate."""
    return services().engine.instances.start(key, body["data"], current_actor(),
                                             business_key=body.get("business_key"), language=current_language())


@blp.route("/process-instances", methods=["GET"])
@blp.arguments(InstanceListArgs, location="query")
@blp.response(200, InstancePageSchema)
def list_instances(args: dict[str, Any]) -> Any:
    """Cases you started or took part in (auditors and admins: all), newest first."""
    return services().engine.instances.list(current_actor(), **args)


@blp.route("/process-instances/<instance_id>", methods=["GET"])
@blp.response(200, InstanceSchema)
def get_instance(instance_id: str) -> Any:
    """One case with its data, open tasks and the elements it went through."""
    return services().engine.instances.get(instance_id, current_actor())


@blp.route("/process-instances/<instance_id>/cancel", methods=["POST"])
@blp.response(200, InstanceSchema)
def cancel(instance_id: str) -> Any:
    """Cancel a case (its starter or an admin)."""
    return services().engine.instances.cancel(instance_id, current_actor())


@blp.route("/process-instances/<instance_id>/suspend", methods=["POST"])
@blp.response(200, InstanceSchema)
def suspend(instance_id: str) -> Any:
    """Pause a case (admins)."""
    return services().engine.instances.suspend(instance_id, current_actor())


@blp.route("/process-instances/<instance_id>/resume", methods=["POST"])
@blp.response(200, InstanceSchema)
def resume(instance_id: str) -> Any:
    """Resume a suspended case (admins)."""
    return services().engine.instances.resume(instance_id, current_actor())
