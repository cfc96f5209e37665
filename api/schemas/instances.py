"""Cases (process instances)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from engine.views import InstanceState

from .common import PageSchema, Text, UTCDateTime, page_field, per_page_field
from .tasks import TaskSchema


class StartInstanceSchema(Schema):
    data = fields.Dict(keys=fields.String(), load_default=dict, metadata={"description": "the start form's fields"})
    business_key = Text(allow_none=True)


class InstanceSchema(Schema):
    id = fields.String(required=True)
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    definition_id = fields.Integer(required=True)
    state = fields.String(required=True, validate=validate.OneOf([s.value for s in InstanceState]))
    data = fields.Dict(required=True)
    business_key = fields.String(allow_none=True)
    started_by = fields.String(required=True)
    started_at = UTCDateTime(required=True)
    ended_at = UTCDateTime(allow_none=True)
    open_tasks = fields.List(fields.Nested(TaskSchema), required=True)
    completed_element_ids = fields.List(fields.String(), required=True)
    active_element_ids = fields.List(fields.String(), required=True)


class InstancePageSchema(PageSchema):
    items = fields.List(fields.Nested(InstanceSchema), required=True)


class InstanceListArgs(Schema):
    key = Text()
    state = fields.String(validate=validate.OneOf([s.value for s in InstanceState]))
    started_by = Text()
    page = page_field()
    per_page = per_page_field()
