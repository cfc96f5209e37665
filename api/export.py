"""Streaming audit exports as CSV or JSON downloads."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Response

from engine.views import AuditEventView

COLUMNS = ["id", "type", "occurred_at", "actor", "instance_id", "task_id", "definition_id", "process_key",
           "data", "hash", "prev_hash"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _record(event: AuditEventView) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "occurred_at": event.occurred_at.astimezone(UTC).isoformat(),
            "actor": event.actor, "instance_id": event.instance_id, "task_id": event.task_id,
            "definition_id": event.definition_id, "process_key": event.process_key, "data": event.data,
            "hash": event.hash, "prev_hash": event.prev_hash}


def _cell(value: Any) -> str:
    text = "" if value is None else json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) \
        else str(value)
    # a spreadsheet would run a cell starting with these as a formula
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_lines(events: Iterable[AuditEventView]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for event in events:
        record = _record(event)
        writer.writerow([_cell(record[c]) for c in COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def json_chunks(events: Iterable[AuditEventView]) -> Iterator[str]:
    yield "["
    for n, event in enumerate(events):
        yield ("," if n else "") + "\n" + json.dumps(_record(event), ensure_ascii=False, default=str)
    yield "\n]\n"


def export_response(wrap: Callable[[Iterator[str]], Iterator[str]], events: Iterator[AuditEventView],
                    fmt: str) -> Response:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if fmt == "json":
        body, mimetype = json_chunks(events), "application/json"
    else:
        body, mimetype = csv_lines(events), "text/csv"
    response = Response(wrap(body), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="opsflow-audit-{stamp}.{fmt}"'
    return response
