"""The audit trail: events, verification, export (auditors and admins)."""

from __future__ import annotations

from typing import Any

from flask import Response, stream_with_context

from ..export import export_response
from ..extensions import services
from ..parsing import Blueprint
from ..queries import audit_page, audit_stream, audit_verify
from ..schemas.audit import AuditExportArgs, AuditListArgs, AuditPageSchema, VerifySchema
from ..security import current_actor

blp = Blueprint("audit", __name__, url_prefix="/api/audit", description="The tamper-evident audit trail")


@blp.route("/events", methods=["GET"])
@blp.arguments(AuditListArgs, location="query")
@blp.response(200, AuditPageSchema)
def events(args: dict[str, Any]) -> Any:
    """Audit events matching the filters, in the order they were recorded."""
    return audit_page(services().engine, current_actor(), args)


@blp.route("/verify", methods=["GET"])
@blp.response(200, VerifySchema)
def verify() -> Any:
    """Walk the hash chain; `first_bad_event` is the first altered, inserted or missing event."""
    return audit_verify(services().engine, current_actor())


@blp.route("/export", methods=["GET"])
@blp.arguments(AuditExportArgs, location="query")
@blp.doc(responses={"200": {"description": "a download (Content-Disposition: attachment)",
                            "content": {"text/csv": {"schema": {"type": "string"}},
                                        "application/json": {"schema": {"type": "array", "items": {}}}}}})
def export(args: dict[str, Any]) -> Response:
    """The filtered trail as a CSV (with a header row) or JSON download, streamed."""
    rows = audit_stream(services().engine, current_actor(), args)
    return export_response(stream_with_context, rows, args["format"])
