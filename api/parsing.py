"""Reading JSON request bodies strictly: the blueprint every API route is declared on uses this parser.

Python's JSON reader accepts more than JSON: NaN and Infinity (which pass every range check of a form, as
any comparison with NaN is false, and make the stored case unreadable to strict clients), and nesting deep
enough to exhaust the interpreter's stack (a 500 instead of an answer). Both are refused as invalid JSON,
a 400 problem like any other malformed body.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import flask_smorest
from flask import Request
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request


def _not_a_number(name: str) -> NoReturn:
    raise json.JSONDecodeError(f"{name} is not a JSON number", name, 0)


class StrictJsonParser(FlaskParser):
    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req):
            return core.missing
        raw = req.get_data(cache=True)
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw  # a UnicodeDecodeError is a 400 too
        try:
            return json.loads(text, parse_constant=_not_a_number)
        except RecursionError:
            raise json.JSONDecodeError("the JSON body nests too deeply", text, 0) from None


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictJsonParser()
