"""The audit trail."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from engine.views import AuditType

from .common import PageSchema, Text, UTCDateTime, page_field, per_page_field


class AuditEventSchema(Schema):
    id = fields.Integer(required=True)
    type = fields.String(required=True)
    occurred_at = UTCDateTime(required=True)
    actor = fields.String(allow_none=True)
    instance_id = fields.String(allow_none=True)
    task_id = fields.String(allow_none=True)
    definition_id = fields.Integer(allow_none=True)
    process_key = fields.String(allow_none=True)
    data = fields.Raw(allow_none=True)
    hash = fields.String(required=True)
    prev_hash = fields.String(required=True)


class AuditPageSchema(PageSchema):
    items = fields.List(fields.Nested(AuditEventSchema), required=True)


class AuditFilterArgs(Schema):
    instance_id = Text()
    actor = Text()
    type = fields.String(validate=validate.OneOf([t.value for t in AuditType]))
    key = Text(metadata={"description": "process key"})
    since = UTCDateTime(data_key="from", metadata={"description": "from this time (inclusive)"})
    until = UTCDateTime(data_key="to", metadata={"description": "until this time (exclusive)"})


class AuditListArgs(AuditFilterArgs):
    page = page_field()
    per_page = per_page_field(100)


class AuditExportArgs(AuditFilterArgs):
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "json"]))


class VerifySchema(Schema):
    ok = fields.Boolean(required=True)
    checked = fields.Integer(required=True)
    first_bad_event = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
