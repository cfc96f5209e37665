"""Process definitions: listing, versions, deploying bundles."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from .common import Text, UTCDateTime


class DefinitionSchema(Schema):
    id = fields.Integer(required=True)
    key = fields.String(required=True)
    name = fields.String(required=True)
    version = fields.Integer(required=True)
    content_hash = fields.String(required=True)
    deployed_by = fields.String(required=True)
    deployed_at = UTCDateTime(required=True)
    start_form_key = fields.String(allow_none=True)
    instance_count = fields.Integer(allow_none=True)


class DefinitionVersionsSchema(Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)
    latest_version = fields.Integer(required=True)
    versions = fields.List(fields.Nested(DefinitionSchema), required=True)


class DeployFilesSchema(Schema):
    files = fields.List(fields.Raw(metadata={"type": "string", "format": "binary"}), required=True,
                        metadata={"description": "one or more .bpmn / .dmn files, deployed as one bundle"})


class DeployFormSchema(Schema):
    expected_version = fields.Integer(validate=validate.Range(min=0, max=1_000_000),
                                      metadata={"description": "same as If-Match: the version the editor opened"})
    key = Text(metadata={"description": "the process the expected version refers to (default: every process)"})


class DeployResultSchema(Schema):
    key = fields.String(required=True, metadata={"description": "the bundle's first process"})
    version = fields.Integer(required=True)
    created = fields.List(fields.String(), required=True, metadata={"description": "keys with a new version"})
    unchanged = fields.List(fields.String(), required=True)
    definitions = fields.List(fields.Nested(DefinitionSchema), required=True)


class ValidateResultSchema(Schema):
    ok = fields.Boolean(required=True, metadata={"description": "always true: problems answer 422"})
    keys = fields.List(fields.String(), required=True, metadata={"description": "the processes it would deploy"})


class XmlArgs(Schema):
    version = fields.Integer(validate=validate.Range(min=1, max=1_000_000))
    file = Text(max_length=500, metadata={"description": "another file of the bundle (e.g. a .dmn)"})
