"""Notices for the signed-in person and their groups."""

from __future__ import annotations

from marshmallow import Schema, fields

from .common import PageSchema, UTCDateTime


class NotificationSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    instance_id = fields.String(allow_none=True)
    task_id = fields.String(allow_none=True)
    recipient_kind = fields.String(required=True)
    recipient = fields.String(required=True)
    subject = fields.String(required=True)
    body = fields.String(required=True)
    created_at = UTCDateTime(required=True)
    email_state = fields.String(required=True)


class NotificationPageSchema(PageSchema):
    items = fields.List(fields.Nested(NotificationSchema), required=True)
