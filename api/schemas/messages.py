"""Messages from outside systems."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from .common import Text


class MessageSchema(Schema):
    name = Text(required=True, validate=[validate.Length(min=1)])
    correlation = fields.Dict(keys=fields.String(), load_default=dict,
                              metadata={"description": "case variables (or business_key) the case must have"})
    data = fields.Dict(keys=fields.String(), load_default=dict,
                       metadata={"description": "reaches the case as the variable named after the message"})


class MessageResultSchema(Schema):
    instance_id = fields.String(required=True)
    started = fields.Boolean(required=True, metadata={"description": "a message start event started a new case"})
    state = fields.String(required=True)


class MessageHeaders(Schema):
    idempotency_key = Text(data_key="Idempotency-Key", validate=[validate.Length(min=1)])
