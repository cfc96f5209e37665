"""A client that knows only API.md: deploy, start, find the task, claim, complete, read the trail.

Every wrong move on the way gets the documented status, a clear problem body, and changes nothing.
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import PASSWORD, Client, assert_problem, upload


def _snapshot(api: Client, instance_id: str) -> dict[str, Any]:
    case = api.get(f"/api/process-instances/{instance_id}", "audrey").json
    tasks = api.get("/api/tasks?candidate=1", "bob").json["items"] + api.get("/api/tasks?mine=1", "bob").json["items"]
    return {"case": case, "tasks": tasks}


def test_a_request_from_deploy_to_audit(api: Client) -> None:
    http = api.client
    # sign in as the process owner and deploy
    token = http.post("/api/auth/tokens", json={"username": "olivia", "password": PASSWORD}).json["token"]
    owner = {"Authorization": f"Bearer {token}"}
    deployed = http.post("/api/process-definitions", headers=owner, data=upload("approval.bpmn"),
                         content_type="multipart/form-data")
    assert deployed.status_code == 201 and deployed.json["key"] == "approval" and deployed.json["version"] == 1
    assert [d["key"] for d in http.get("/api/process-definitions", headers=owner).json] == ["approval"]

    # alice starts a case; wrong data first
    start_url = "/api/process-definitions/approval/instances"
    assert_problem(http.post(start_url, json={"data": {"title": "Laptop", "amount": 5}}), 401)
    wrong = api.post(start_url, "alice", json={"data": {"title": "Laptop", "amount": -5}},
                     headers={"Accept-Language": "en"})
    assert assert_problem(wrong, 422)["errors"] == {"amount": ["Must be at least 0"]}
    case = api.post(start_url, "alice", json={"data": {"title": "Laptop", "amount": 900,
                                                       "publish_by": "2030-06-01T08:00:00Z"},
                                              "business_key": "REQ-42"})
    assert case.status_code == 201 and case.json["state"] == "running"
    instance_id = case.json["id"]

    # the task is in the reviewers' inbox, not in the requester's
    assert api.get("/api/tasks?candidate=1", "alice").json["total"] == 0
    inbox = api.get("/api/tasks?candidate=1", "bob").json
    assert inbox["total"] == 1
    task = inbox["items"][0]
    assert task["instance_id"] == instance_id and task["name"] == "Review request"
    detail = api.get(f"/api/tasks/{task['id']}", "bob", headers={"Accept-Language": "en"}).json
    assert detail["form"]["required"] == ["decision"] and detail["data"]["title"] == "Laptop"

    before = _snapshot(api, instance_id)
    url = f"/api/tasks/{task['id']}"
    # wrong moves: no token, wrong person, separation of duties, wrong data
    assert_problem(http.post(url + "/claim"), 401)
    assert "not offered to you" in assert_problem(api.post(url + "/claim", "dave"), 403)["detail"]
    assert_problem(api.post(url + "/complete", "dave", json={"data": {"decision": "approve"}}), 403)
    assert_problem(api.post(url + "/assign", "bob", json={"user": "bob"}), 403)
    assert _snapshot(api, instance_id) == before

    assert api.post(url + "/claim", "bob").json["assignee"] == "bob"
    assert "bob" in assert_problem(api.post(url + "/claim", "carol"), 409)["detail"]
    assert "assigned to bob" in assert_problem(
        api.post(url + "/complete", "carol", json={"data": {"decision": "approve"}}), 403)["detail"]
    claimed = _snapshot(api, instance_id)
    bad = api.post(url + "/complete", "bob", json={"data": {"decision": "perhaps"}}, headers={"Accept-Language": "en"})
    assert assert_problem(bad, 422)["errors"] == {"decision": ["Choose one of the offered options"]}
    assert _snapshot(api, instance_id) == claimed

    done = api.post(url + "/complete", "bob", json={"data": {"decision": "approve", "comment": "fine"}})
    assert done.status_code == 200 and done.json["open_tasks"][0]["element_id"] == "publish"
    assert "no longer open" in assert_problem(
        api.post(url + "/complete", "bob", json={"data": {"decision": "reject"}}), 409)["detail"]

    publish = api.get("/api/tasks?mine=1", "alice").json["items"][0]
    finished = api.post(f"/api/tasks/{publish['id']}/complete", "alice", json={"data": {"published": True}})
    assert finished.json["state"] == "completed" and finished.json["ended_at"]

    # the auditor reads the trail; the requester may not
    assert_problem(api.get(f"/api/audit/events?instance_id={instance_id}", "alice"), 403)
    trail = api.get(f"/api/audit/events?instance_id={instance_id}", "audrey").json["items"]
    assert [(e["type"], e["actor"]) for e in trail] == [
        ("instance_started", "alice"), ("task_created", "alice"), ("task_claimed", "bob"),
        ("task_completed", "bob"), ("task_created", "bob"), ("task_completed", "alice"),
        ("instance_completed", "alice")]
    assert api.get("/api/audit/verify", "audrey").json["ok"] is True


def test_separation_of_duties_breach_changes_nothing_but_the_refusal_record(api: Client) -> None:
    api.post("/api/process-definitions", "olivia", data=upload("approval.bpmn"), content_type="multipart/form-data")
    case = api.post("/api/process-definitions/approval/instances", "carol",
                    json={"data": {"title": "Own request", "amount": 1}}).json
    task_id = case["open_tasks"][0]["id"]
    before = api.get(f"/api/process-instances/{case['id']}", "audrey").json
    body = assert_problem(api.post(f"/api/tasks/{task_id}/complete", "carol", json={"data": {"decision": "approve"}}),
                          403, "forbidden")
    assert "separation of duties" in body["detail"]
    assert api.get(f"/api/process-instances/{case['id']}", "audrey").json == before
    refusals = api.get("/api/audit/events?type=task_refused", "audrey").json["items"]
    assert [(e["actor"], e["task_id"]) for e in refusals] == [("carol", task_id)]
