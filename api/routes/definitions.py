"""Process definitions: list, versions, the verbatim XML, deploy."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from engine.errors import NotFound, PermissionDenied
from engine.views import Role

from ..deploying import deploy_bundle, read_files
from ..extensions import services
from ..parsing import Blueprint
from ..schemas.definitions import (
    DefinitionSchema,
    DefinitionVersionsSchema,
    DeployFilesSchema,
    DeployFormSchema,
    DeployResultSchema,
    ValidateResultSchema,
    XmlArgs,
)
from ..security import UNTRUSTED_DOCUMENT, current_actor

blp = Blueprint("definitions", __name__, url_prefix="/api/process-definitions",
                description="Deployed BPMN/DMN process definitions")
IF_MATCH = {"in": "header", "name": "If-Match", "required": False, "schema": {"type": "string"},
            "description": 'the version the editor opened, as "<version>"; 412 when another was deployed since'}


@blp.route("", methods=["GET"])
@blp.response(200, DefinitionSchema(many=True))
def list_definitions() -> Any:
    """The latest version of every process."""
    return services().engine.definitions.list_latest()


@blp.route("", methods=["POST"])
@blp.doc(parameters=[IF_MATCH])
@blp.arguments(DeployFilesSchema, location="files")
@blp.arguments(DeployFormSchema, location="form")
@blp.response(201, DeployResultSchema, description="a new version of at least one process")
@blp.alt_response(200, schema=DeployResultSchema, description="nothing changed")
@blp.alt_response(412, response="PRECONDITION_FAILED")
@blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
def deploy(files: dict[str, Any], form: dict[str, Any]) -> Any:
    """Deploy .bpmn/.dmn files as one bundle (process owners); running cases stay on their version."""
    result = deploy_bundle(services().engine, request.files.getlist("files"), form, current_actor())
    return result, 201 if result["created"] else 200


@blp.route("/validate", methods=["POST"])
@blp.arguments(DeployFilesSchema, location="files")
@blp.response(200, ValidateResultSchema, description="the bundle would deploy")
@blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
def validate_bundle(files: dict[str, Any]) -> Any:
    """Check .bpmn/.dmn files as deploy would, without deploying (process owners); 422 lists the problems."""
    if not current_actor().has_role(Role.PROCESS_OWNER, Role.ADMIN):
        raise PermissionDenied("validating needs the process_owner role")  # before any parsing work
    return {"ok": True, "keys": services().engine.definitions.validate(read_files(request.files.getlist("files")))}


@blp.route("/<key>", methods=["GET"])
@blp.response(200, DefinitionVersionsSchema)
def versions(key: str) -> dict[str, Any]:
    """Every version of a process, newest first, with how many cases each runs."""
    rows = services().engine.definitions.versions(key)
    return {"key": key, "name": rows[0].name, "latest_version": rows[0].version, "versions": rows}


@blp.route("/<key>/xml", methods=["GET"])
@blp.arguments(XmlArgs, location="query")
@blp.doc(responses={"200": {"description": "the verbatim BPMN (ETag: the version)",
                            "content": {"application/xml": {"schema": {"type": "string"}}}},
                    "304": {"description": "not modified"}})
def xml(args: dict[str, Any], key: str) -> Response:
    """The verbatim BPMN file of a version (default: the latest), for the editor."""
    definitions = services().engine.definitions
    version = args.get("version") or definitions.get(key).version
    if args.get("file"):
        files = definitions.sources(key, version)
        if args["file"] not in files:
            raise NotFound(f"version {version} of {key} has no file {args['file']!r}")
        text = files[args["file"]]
    else:
        _name, text = definitions.main_file(key, version)
    etag = f'"{version}"'
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers={"ETag": etag})
    return Response(text, mimetype="application/xml", headers={"ETag": etag, **UNTRUSTED_DOCUMENT})
