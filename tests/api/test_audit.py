"""The audit trail over the API: events with filters, verification, exports; auditors and admins only."""

from __future__ import annotations

import csv
import io
import json

from flask import Flask
from sqlalchemy import text

from tests.api.conftest import Client, assert_problem, engine_of, start_case


def _complete_one(api: Client) -> dict[str, object]:
    case = start_case(api)
    api.post(f"/api/tasks/{case['open_tasks'][0]['id']}/complete", "bob", json={"data": {"decision": "reject"}})
    return case


def test_events_are_filtered_and_in_order(approval: Client) -> None:
    case = _complete_one(approval)
    start_case(approval, "dave")
    page = approval.get(f"/api/audit/events?instance_id={case['id']}", "audrey").json
    types = [e["type"] for e in page["items"]]
    assert types == ["instance_started", "task_created", "task_completed", "instance_completed"]
    assert [e["id"] for e in page["items"]] == sorted(e["id"] for e in page["items"])
    assert page["total"] == 4 and page["page"] == 1
    first = page["items"][0]
    assert first["actor"] == "alice" and first["process_key"] == "approval" and first["occurred_at"].endswith("+00:00")
    assert len(first["hash"]) == 64
    by_bob = approval.get("/api/audit/events?actor=bob&type=task_completed", "adam").json
    assert by_bob["total"] == 1 and by_bob["items"][0]["data"]["data"] == {"decision": "reject"}
    assert approval.get("/api/audit/events?key=approval&per_page=2&page=2", "audrey").json["per_page"] == 2
    future = approval.get("/api/audit/events?from=2999-01-01T00:00:00Z", "audrey").json
    assert future["total"] == 0
    window = approval.get("/api/audit/events?from=2000-01-01T00:00:00&to=2999-01-01T00:00:00%2B08:00",
                          "audrey").json
    assert window["total"] > 0
    assert_problem(approval.get("/api/audit/events?type=made_up", "audrey"), 422)
    assert_problem(approval.get("/api/audit/events?from=yesterday", "audrey"), 422)


def test_audit_needs_auditor_or_admin(approval: Client) -> None:
    for path in ("/api/audit/events", "/api/audit/verify", "/api/audit/export?format=csv"):
        body = assert_problem(approval.get(path, "alice"), 403, "forbidden")
        assert "auditor" in body["detail"]
        assert_problem(approval.get(path), 401)


def test_verify_reports_ok_then_the_first_bad_event(app: Flask, approval: Client) -> None:
    _complete_one(approval)
    result = approval.get("/api/audit/verify", "audrey").json
    assert result["ok"] is True and result["checked"] > 5 and result.get("first_bad_event") is None
    with engine_of(app).db.write_engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE id = 3"))
    broken = approval.get("/api/audit/verify", "audrey").json
    assert broken["ok"] is False and broken["first_bad_event"] == 3


def test_export_csv_and_json_downloads(approval: Client) -> None:
    case = _complete_one(approval)
    response = approval.get(f"/api/audit/export?format=csv&instance_id={case['id']}", "audrey")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["type"] for r in rows] == ["instance_started", "task_created", "task_completed", "instance_completed"]
    assert json.loads(rows[2]["data"])["data"] == {"decision": "reject"}
    as_json = approval.get(f"/api/audit/export?format=json&instance_id={case['id']}", "adam")
    assert as_json.mimetype == "application/json" and ".json" in as_json.headers["Content-Disposition"]
    events = json.loads(as_json.get_data(as_text=True))
    assert [e["id"] for e in events] == [int(r["id"]) for r in rows]
    empty = approval.get("/api/audit/export?actor=nobody", "audrey").get_data(as_text=True)
    assert empty.splitlines() == ["id,type,occurred_at,actor,instance_id,task_id,definition_id,process_key,data,hash,"
                                  "prev_hash"]
    assert_problem(approval.get("/api/audit/export?format=xlsx", "audrey"), 422)


def test_export_neutralizes_spreadsheet_formulas(app: Flask, api: Client) -> None:
    api.post("/api/auth/tokens", json={"username": "=cmd|'/c calc'!A1", "password": "x"})
    text_ = api.get("/api/audit/export?type=login_failed", "audrey").get_data(as_text=True)
    (row,) = list(csv.DictReader(io.StringIO(text_)))
    assert row["data"].startswith("{") and "'=cmd" not in row["actor"]
