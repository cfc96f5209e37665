"""The app's services and the flask-smorest Api configured for problem+json."""

from __future__ import annotations

import http
from dataclasses import dataclass

from flask import current_app
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from engine.core import Engine
from engine.identity import IdentityService
from engine.settings import Settings

from .problems import PROBLEM_JSON, from_http_exception
from .schemas.common import ProblemSchema


@dataclass
class Services:
    """What routes may call: the engine's services and the identity service."""

    settings: Settings
    engine: Engine
    identity: IdentityService


def services() -> Services:
    return current_app.extensions["opsflow"]  # type: ignore[no-any-return]


class ProblemApi(Api):
    """flask-smorest with RFC 9457 errors, documented as application/problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException):  # type: ignore[no-untyped-def]
        return from_http_exception(error)

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, object] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Problem details (RFC 9457)", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)
