"""Shared fields and schemas: problems, pages, safe strings and UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

MAX_PAGE = 100_000


class Text(fields.String):
    """A string without NUL characters (PostgreSQL refuses them), bounded in length."""

    def __init__(self, *args: Any, max_length: int = 200, **kwargs: Any) -> None:
        validators = list(kwargs.pop("validate", None) or [])
        validators.append(validate.Length(max=max_length))
        super().__init__(*args, validate=validators, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        result = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in result:
            raise ValidationError("must not contain NUL characters")
        return result


class UTCDateTime(fields.AwareDateTime):
    """ISO-8601 in and out; a time without a zone is taken as UTC; always stored and shown in UTC."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", default_timezone=UTC, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        result = super()._deserialize(value, attr, data, **kwargs)
        try:
            return result.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise ValidationError("is out of range") from exc

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, datetime):
            value = value.astimezone(UTC)
        return super()._serialize(value, attr, obj, **kwargs)


def page_field() -> fields.Integer:
    return fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE),
                          metadata={"description": "page number, from 1"})


def per_page_field(default: int = 50) -> fields.Integer:
    return fields.Integer(load_default=default, validate=validate.Range(min=1, max=500))


class PagingArgs(Schema):
    page = page_field()
    per_page = per_page_field()


class PageSchema(Schema):
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)


class ProblemSchema(Schema):
    """RFC 9457 problem details (application/problem+json)."""

    type = fields.String(required=True, metadata={"example": "urn:opsflow:problem:not-found"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    instance = fields.String()
    request_id = fields.String(required=True)
    errors = fields.Raw(metadata={"description": "{field: [messages]} for validation failures; "
                                                "the model problems for invalid diagrams"})
    problems = fields.List(fields.Dict(), metadata={"description": "{element_id, file_name, line, message}"})
    element_id = fields.String()
    line = fields.Integer()
    kind = fields.String()
    retry_after = fields.Integer()
    reason = fields.String(metadata={"description": "why it was refused, a stable code (task_not_open, "
                                                    "task_claimed_by_other, sod_started_case, ...)"})
    params = fields.Dict(metadata={"description": "the values the refusal's message is made of (task name, "
                                                  "assignee, state, ...), for a client's own wording"})
