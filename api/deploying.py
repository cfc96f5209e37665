"""Turning a multipart upload and its If-Match precondition into one engine deploy call."""

from __future__ import annotations

import os
import re
from typing import Any

from flask import request
from werkzeug.datastructures import FileStorage

from engine.core import Engine
from engine.errors import OpsflowError, PermissionDenied, ValidationFailed
from engine.views import Actor, Role

ALLOWED_SUFFIXES = (".bpmn", ".dmn", ".xml")
_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


def read_files(uploads: list[FileStorage]) -> dict[str, bytes | str]:
    """The uploaded files by base name. Raises ValidationFailed (no files, wrong type, duplicates)."""
    files: dict[str, bytes | str] = {}
    errors: list[str] = []
    for upload in uploads:
        name = os.path.basename((upload.filename or "").replace("\\", "/"))
        if not name.lower().endswith(ALLOWED_SUFFIXES):
            errors.append(f"{name or 'a file without a name'}: only .bpmn and .dmn files can be deployed")
        elif name in files:
            errors.append(f"{name}: given twice")
        else:
            files[name] = upload.read()
    if errors or not files:
        raise ValidationFailed("the upload cannot be deployed", {"files": errors or ["upload at least one file"]})
    return files


def expected_version(form: dict[str, Any]) -> int | None:
    """From If-Match ("3", W/"3", or 3) or the form field; None when not given. Raises OpsflowError (400)."""
    header = request.headers.get("If-Match")
    if header is not None and header.strip() != "*":
        match = _ETAG.match(header)
        if match is None:
            raise OpsflowError('If-Match must be a version in quotes, e.g. "3"')
        return int(match.group(1))
    value = form.get("expected_version")
    return int(value) if value is not None else None


def deploy_bundle(engine: Engine, uploads: list[FileStorage], form: dict[str, Any], actor: Actor) -> dict[str, Any]:
    if not actor.has_role(Role.PROCESS_OWNER, Role.ADMIN):
        raise PermissionDenied("deploying needs the process_owner role")  # before any parsing work
    files = read_files(uploads)
    expected = expected_version(form)
    expected_versions = None
    if expected is not None:
        keys = [form["key"]] if form.get("key") else engine.definitions.validate(dict(files))
        expected_versions = dict.fromkeys(keys, expected)
    result = engine.definitions.deploy(dict(files), actor, expected_versions=expected_versions)
    first = result.definitions[0]
    return {"key": first.key, "version": first.version, "created": result.created, "unchanged": result.unchanged,
            "definitions": result.definitions}
