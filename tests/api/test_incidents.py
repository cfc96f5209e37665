"""GET /api/incidents and POST /api/incidents/{id}/resolve: admins only, problem responses otherwise."""

from __future__ import annotations

from tests.api.conftest import Client, assert_problem, upload


def test_incidents_through_the_api(api: Client) -> None:
    assert api.post("/api/process-definitions", "olivia", data=upload("failing.bpmn"),
                    content_type="multipart/form-data").status_code == 201
    case = api.post("/api/process-definitions/failing/instances", "dave", json={"data": {}}).json
    failed = api.post(f"/api/tasks/{case['open_tasks'][0]['id']}/complete", "dave", json={"data": {"note": "x"}})
    body = assert_problem(failed, 422)
    assert body["element_id"] == "boom"

    assert_problem(api.get("/api/incidents"), 401)
    assert_problem(api.get("/api/incidents", "dave"), 403)
    listed = api.get("/api/incidents", "adam")
    assert listed.status_code == 200 and listed.json["total"] == 1
    incident = listed.json["items"][0]
    assert (incident["instance_id"], incident["element_id"], incident["state"]) == (case["id"], "boom", "open")
    assert_problem(api.post(f"/api/incidents/{incident['id']}/resolve", "dave", json={}), 403)
    resolved = api.post(f"/api/incidents/{incident['id']}/resolve", "adam", json={"comment": "script fixed"})
    assert resolved.status_code == 200 and resolved.json["state"] == "resolved"
    assert_problem(api.post(f"/api/incidents/{incident['id']}/resolve", "adam", json={}), 409)
    assert_problem(api.post("/api/incidents/424242/resolve", "adam", json={}), 404)
    assert api.get("/api/incidents?state=resolved", "adam").json["items"][0]["resolved_by"] == "adam"
