"""The inbox through the API: listing, forms, claim/unclaim/assign, completing, and every refusal."""

from __future__ import annotations

from flask import Flask

from engine.views import AuditType
from tests.api.conftest import Client, assert_problem, engine_of, start_case


def _review_task(api: Client) -> str:
    return str(start_case(api)["open_tasks"][0]["id"])


def test_inbox_lists_offered_and_mine(approval: Client) -> None:
    task_id = _review_task(approval)
    offered = approval.get("/api/tasks?candidate=1", "bob").json
    assert (offered["total"], offered["page"], offered["per_page"]) == (1, 1, 25)
    item = offered["items"][0]
    assert {k: item[k] for k in ("id", "key", "element_id", "name", "assignee", "candidate_groups", "priority",
                                 "state")} == {"id": task_id, "key": "approval", "element_id": "review",
                                               "name": "Review request", "assignee": None,
                                               "candidate_groups": ["reviewers"], "priority": 70, "state": "open"}
    assert item["due"] and item["created"] and item["instance_id"]
    assert approval.get("/api/tasks?candidate=1", "dave").json["total"] == 0
    assert approval.get("/api/tasks?mine=1", "bob").json["total"] == 0
    approval.post(f"/api/tasks/{task_id}/claim", "bob")
    assert approval.get("/api/tasks?mine=1", "bob").json["items"][0]["state"] == "claimed"
    assert approval.get("/api/tasks?candidate=1", "carol").json["total"] == 0
    assert approval.get("/api/tasks?key=approval&q=Review&sort=due&per_page=5", "bob").json["total"] == 1
    assert approval.get("/api/tasks?q=nothing", "bob").json["total"] == 0
    assert approval.get("/api/tasks?state=completed", "bob").json["total"] == 0


def test_task_detail_has_the_localized_form_and_data(approval: Client) -> None:
    task_id = _review_task(approval)
    zh = approval.get(f"/api/tasks/{task_id}", "bob", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).json
    assert zh["form"]["title"] == "审核" and zh["form"]["type"] == "object"
    assert zh["form"]["properties"]["decision"]["x-enumNames"] == ["批准", "驳回"]
    assert zh["data"]["title"] == "New laptop" and zh["instance_state"] == "running"
    en = approval.get(f"/api/tasks/{task_id}", "bob", headers={"Accept-Language": "en"}).json
    assert en["form"]["properties"]["decision"]["title"] == "Decision"
    assert_problem(approval.get(f"/api/tasks/{task_id}", "dave"), 403)
    assert_problem(approval.get("/api/tasks/nope", "bob"), 404)


def test_claim_unclaim_assign(approval: Client) -> None:
    task_id = _review_task(approval)
    assert_problem(approval.post(f"/api/tasks/{task_id}/claim", "dave"), 403)
    claimed = approval.post(f"/api/tasks/{task_id}/claim", "bob")
    assert claimed.status_code == 200 and claimed.json["assignee"] == "bob" and claimed.json["state"] == "claimed"
    body = assert_problem(approval.post(f"/api/tasks/{task_id}/claim", "carol"), 409, "conflict")
    assert "bob" in body["detail"]
    outsider = assert_problem(approval.post(f"/api/tasks/{task_id}/claim", "dave"), 403)  # not a candidate:
    assert "bob" not in outsider["detail"] and outsider["reason"] == "task_not_offered"  # learns nothing
    # the refusal as a code and its values, for a client's own wording
    assert body["reason"] == "task_claimed_by_other" and body["params"]["assignee"] == "bob"
    assert body["params"]["name"]
    assert_problem(approval.post(f"/api/tasks/{task_id}/unclaim", "carol"), 403)
    assert approval.post(f"/api/tasks/{task_id}/unclaim", "bob").json["assignee"] is None
    assert_problem(approval.post(f"/api/tasks/{task_id}/assign", "bob", json={"user": "carol"}), 403)
    body = assert_problem(approval.post(f"/api/tasks/{task_id}/assign", "adam", json={"user": "ghost"}), 422)
    assert "user" in body["errors"]
    assigned = approval.post(f"/api/tasks/{task_id}/assign", "adam", json={"user": "carol"})
    assert assigned.json["assignee"] == "carol"
    assert_problem(approval.post(f"/api/tasks/{task_id}/assign", "adam", json={}), 422)


def test_complete_validates_and_moves_the_case(app: Flask, approval: Client) -> None:
    task_id = _review_task(approval)
    url = f"/api/tasks/{task_id}/complete"
    bad = approval.post(url, "bob", json={"data": {"decision": "maybe", "reference": "x"}},
                        headers={"Accept-Language": "en"})
    body = assert_problem(bad, 422, "validation-failed")
    assert body["errors"] == {"decision": ["Choose one of the offered options"],
                              "reference": ["Does not have the expected format"]}
    zh = assert_problem(approval.post(url, "bob", json={"data": {}}, headers={"Accept-Language": "zh-CN"}), 422)
    assert zh["errors"] == {"decision": ["此项为必填项"]}
    assert approval.get(f"/api/tasks/{task_id}", "bob").json["state"] == "open"
    done = approval.post(url, "bob", json={"data": {"decision": "reject", "ignored_field": 1}})
    assert done.status_code == 200
    assert done.json["state"] == "completed" and "end_rejected" in done.json["completed_element_ids"]
    assert "ignored_field" not in done.json["data"]
    stale = assert_problem(approval.post(url, "carol", json={"data": {"decision": "approve"}}), 409, "conflict")
    assert "no longer open" in stale["detail"]
    assert stale["reason"] == "task_not_open" and stale["params"]["state"] == "completed"
    assert stale["params"]["by"] == "bob"
    completed = engine_of(app).audit_events(type=AuditType.TASK_COMPLETED)
    assert completed[-1].data["data"] == {"decision": "reject"} and completed[-1].actor == "bob"


def test_only_candidates_complete_and_separation_of_duties_is_a_403_with_its_reason(
        app: Flask, approval: Client) -> None:
    case = start_case(approval, "carol", publish_by="2030-01-02T03:04:05Z")  # carol reviews, and starts it herself
    task_id = case["open_tasks"][0]["id"]
    url = f"/api/tasks/{task_id}/complete"
    body = assert_problem(approval.post(url, "dave", json={"data": {"decision": "approve"}}), 403, "forbidden")
    assert "not offered to you" in body["detail"]
    body = assert_problem(approval.post(url, "carol", json={"data": {"decision": "approve"}}), 403, "forbidden")
    assert "separation of duties" in body["detail"] and "you started this case" in body["detail"]
    assert body["reason"] == "sod_started_case"
    refused = engine_of(app).audit_events(type=AuditType.TASK_REFUSED)
    assert refused and refused[-1].actor == "carol" and "separation of duties" in refused[-1].data["reason"]
    assert approval.get(f"/api/tasks/{task_id}", "bob").json["state"] == "open"
    done = approval.post(url, "bob", json={"data": {"decision": "approve"}})
    assert done.status_code == 200, done.json


def test_a_failing_expression_is_422_with_its_element_and_leaves_the_task_open(approval: Client) -> None:
    task_id = _review_task(approval)  # no publish_by: the next task's due date expression fails
    body = assert_problem(approval.post(f"/api/tasks/{task_id}/complete", "bob", json={"data": {"decision": "approve"}}),
                          422, "script-error")
    assert body["element_id"] == "publish" and "publish_by" in body["detail"]
    assert approval.get(f"/api/tasks/{task_id}", "bob").json["state"] == "open"


def test_a_closed_task_shows_its_case_only_to_those_who_may_see_the_case(approval: Client) -> None:
    case = start_case(approval, publish_by="2030-01-02T03:04:05Z")
    review = case["open_tasks"][0]["id"]
    assert approval.get(f"/api/tasks/{review}", "carol").status_code == 200  # offered to her group while open
    after = approval.post(f"/api/tasks/{review}/complete", "bob", json={"data": {"decision": "approve"}}).json
    approval.post(f"/api/tasks/{after['open_tasks'][0]['id']}/complete", "alice", json={"data": {"published": True}})
    assert_problem(approval.get(f"/api/process-instances/{case['id']}", "carol"), 403)
    assert_problem(approval.get(f"/api/tasks/{review}", "carol"), 403)  # not a lasting way into the case
    assert approval.get(f"/api/tasks/{review}", "bob").json["state"] == "completed"  # who did it still sees it
