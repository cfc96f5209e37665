"""Sign-in, tokens and the caller."""

from __future__ import annotations

from marshmallow import Schema, fields

from .common import Text, UTCDateTime


class CredentialsSchema(Schema):
    username = Text(required=True)
    password = Text(required=True, max_length=1000, load_only=True)


class IssuedTokenSchema(Schema):
    id = fields.Integer(required=True)
    token = fields.String(required=True, metadata={"description": "send as 'Authorization: Bearer <token>'"})
    expires_at = UTCDateTime(required=True)


class LoginResultSchema(Schema):
    username = fields.String(required=True)
    csrf_token = fields.String(required=True, metadata={"description": "send as X-CSRF-Token on cookie writes"})
    expires_at = UTCDateTime(required=True)


class CsrfSchema(Schema):
    csrf_token = fields.String(required=True)


class TokenSchema(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    kind = fields.String(required=True)
    created_at = UTCDateTime(required=True)
    expires_at = UTCDateTime(required=True)
    revoked_at = UTCDateTime(allow_none=True)


class TokenListArgs(Schema):
    username = Text(metadata={"description": "another user's tokens (admins)"})


class MeSchema(Schema):
    username = fields.String(required=True)
    display_name = fields.Dict(keys=fields.String(), values=fields.String())
    groups = fields.List(fields.String(), required=True)
    roles = fields.List(fields.String(), required=True)
    language = fields.String(required=True)
    auth = fields.String(required=True, metadata={"description": "bearer or session"})
