"""Incidents (admins)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from .common import PageSchema, PagingArgs, Text, UTCDateTime


class IncidentSchema(Schema):
    id = fields.Integer(required=True)
    instance_id = fields.String(allow_none=True)
    process_key = fields.String(allow_none=True)
    element_id = fields.String(allow_none=True)
    error_type = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Raw(allow_none=True)
    state = fields.String(required=True)
    created_at = UTCDateTime(required=True)
    resolved_by = fields.String(allow_none=True)
    resolved_at = UTCDateTime(allow_none=True)


class IncidentPageSchema(PageSchema):
    items = fields.List(fields.Nested(IncidentSchema), required=True)


class IncidentListArgs(PagingArgs):
    state = fields.String(load_default="open", validate=validate.OneOf(["open", "resolved", "retried"]))
    instance_id = Text()
    key = Text()


class ResolveSchema(Schema):
    comment = Text(max_length=2000, allow_none=True)
