"""The inbox: tasks, their forms, and the actions on them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from engine.views import InstanceState, TaskState

from .common import PageSchema, Text, UTCDateTime, page_field, per_page_field


class TaskSchema(Schema):
    id = fields.String(required=True)
    instance_id = fields.String(required=True)
    key = fields.String(required=True)
    definition_id = fields.Integer(required=True)
    element_id = fields.String(required=True)
    name = fields.String(required=True)
    form_key = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)
    candidate_users = fields.List(fields.String(), required=True)
    candidate_groups = fields.List(fields.String(), required=True)
    due = UTCDateTime(allow_none=True)
    priority = fields.Integer(required=True)
    state = fields.String(required=True, validate=validate.OneOf([s.value for s in TaskState]))
    created = UTCDateTime(required=True)
    business_key = fields.String(allow_none=True)
    completed_by = fields.String(allow_none=True)
    completed_at = UTCDateTime(allow_none=True)


class TaskDetailSchema(TaskSchema):
    form = fields.Dict(allow_none=True, metadata={"description": "the task's form as a localized JSON Schema"})
    data = fields.Dict(required=True, metadata={"description": "the case's current data"})
    instance_state = fields.String(required=True, validate=validate.OneOf([s.value for s in InstanceState]))
    properties = fields.Dict(keys=fields.String(), values=fields.String())


class TaskPageSchema(PageSchema):
    items = fields.List(fields.Nested(TaskSchema), required=True)


class TaskListArgs(Schema):
    mine = fields.Boolean(load_default=False, metadata={"description": "assigned to me"})
    candidate = fields.Boolean(load_default=False, metadata={"description": "offered to me or my groups"})
    state = fields.String(validate=validate.OneOf([s.value for s in TaskState]))
    key = Text()
    q = Text(metadata={"description": "search in task names and business keys"})
    sort = fields.String(load_default="created", validate=validate.OneOf(["due", "priority", "created"]))
    page = page_field()
    per_page = per_page_field(25)


class CompleteSchema(Schema):
    data = fields.Dict(keys=fields.String(), load_default=dict, metadata={"description": "the form's fields"})


class AssignSchema(Schema):
    user = Text(required=True)
