"""Users and groups (administration)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from engine.forms import LANGUAGES

from .common import PageSchema, Text, UTCDateTime, page_field, per_page_field


class UserSchema(Schema):
    username = fields.String(required=True)
    display_name = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    groups = fields.List(fields.String(), required=True)
    roles = fields.List(fields.String(), required=True)
    active = fields.Boolean(required=True)
    language = fields.String(allow_none=True)
    created_at = UTCDateTime(required=True)
    updated_at = UTCDateTime(required=True)


class UserPageSchema(PageSchema):
    items = fields.List(fields.Nested(UserSchema), required=True)


class UserListArgs(Schema):
    q = Text()
    page = page_field()
    per_page = per_page_field()


class NewUserSchema(Schema):
    username = Text(required=True)
    password = Text(required=True, max_length=1000, load_only=True)
    groups = fields.List(Text(), load_default=list)
    roles = fields.List(Text(), load_default=list)
    display_name = fields.Dict(keys=Text(max_length=10), values=Text(max_length=500), load_default=None)
    language = fields.String(validate=validate.OneOf(LANGUAGES), load_default=None)


class UserChangeSchema(Schema):
    groups = fields.List(Text())
    roles = fields.List(Text())
    active = fields.Boolean()
    display_name = fields.Dict(keys=Text(max_length=10), values=Text(max_length=500))
    password = Text(max_length=1000, load_only=True)
    language = fields.String(validate=validate.OneOf(LANGUAGES))


class GroupSchema(Schema):
    key = fields.String(required=True)
    name = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    parent = fields.String(allow_none=True)
    description = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)
    org_roles = fields.List(fields.String(), required=True)
    members = fields.Integer(required=True)
