"""Starting, listing, reading, cancelling, suspending and resuming cases."""

from __future__ import annotations

from tests.api.conftest import Client, assert_problem, start_case


def test_start_returns_the_case_with_its_first_task(approval: Client) -> None:
    case = start_case(approval)
    assert case["state"] == "running" and case["key"] == "approval" and case["version"] == 1
    assert case["business_key"] == "REQ-1" and case["started_by"] == "alice" and case["ended_at"] is None
    assert case["data"]["title"] == "New laptop" and case["data"]["requester"] == "alice"
    (task,) = case["open_tasks"]
    assert task["element_id"] == "review" and task["candidate_groups"] == ["reviewers"]
    assert case["active_element_ids"] == ["review"] and "start" in case["completed_element_ids"]
    assert case["started_at"].endswith("+00:00")


def test_start_form_errors_are_422_per_field_in_the_callers_language(approval: Client) -> None:
    url = "/api/process-definitions/approval/instances"
    zh = assert_problem(approval.post(url, "alice", json={"data": {"title": "x"}}), 422, "validation-failed")
    assert zh["errors"]["amount"] == ["此项为必填项"] and zh["errors"]["title"] == ["至少需要 3 个字符"]
    en = approval.post(url, "alice", json={"data": {"title": "x"}}, headers={"Accept-Language": "en"})
    assert assert_problem(en, 422)["errors"]["amount"] == ["This field is required"]
    assert_problem(approval.post("/api/process-definitions/nope/instances", "alice", json={"data": {}}), 404)
    assert approval.get("/api/process-instances", "alice").json["total"] == 0


def test_people_see_only_cases_they_took_part_in(approval: Client) -> None:
    case = start_case(approval)
    start_case(approval, "dave")
    mine = approval.get("/api/process-instances", "alice").json
    assert (mine["total"], mine["page"], mine["per_page"]) == (1, 1, 50)
    assert mine["items"][0]["id"] == case["id"]
    assert approval.get("/api/process-instances", "audrey").json["total"] == 2
    assert approval.get("/api/process-instances?started_by=dave", "adam").json["total"] == 1
    assert approval.get("/api/process-instances?key=approval&state=running", "adam").json["total"] == 2
    assert approval.get(f"/api/process-instances/{case['id']}", "bob").status_code == 200  # offered to reviewers
    body = assert_problem(approval.get(f"/api/process-instances/{case['id']}", "olivia"), 403)
    assert "took part" in body["detail"]
    assert_problem(approval.get("/api/process-instances/no-such-case", "adam"), 404)


def test_cancel_by_starter_only_and_not_twice(approval: Client) -> None:
    case = start_case(approval)
    assert_problem(approval.post(f"/api/process-instances/{case['id']}/cancel", "bob"), 403)
    done = approval.post(f"/api/process-instances/{case['id']}/cancel", "alice")
    assert done.status_code == 200 and done.json["state"] == "cancelled" and done.json["open_tasks"] == []
    assert_problem(approval.post(f"/api/process-instances/{case['id']}/cancel", "alice"), 409, "conflict")


def test_suspend_and_resume_are_for_admins(approval: Client) -> None:
    case = start_case(approval)
    url = f"/api/process-instances/{case['id']}"
    assert_problem(approval.post(url + "/suspend", "alice"), 403)
    assert approval.post(url + "/suspend", "adam").json["state"] == "suspended"
    task_id = case["open_tasks"][0]["id"]
    body = assert_problem(approval.post(f"/api/tasks/{task_id}/complete", "bob", json={"data": {"decision": "reject"}}),
                          409)
    assert "suspended" in body["detail"]
    assert_problem(approval.post(url + "/suspend", "adam"), 409)
    assert approval.post(url + "/resume", "adam").json["state"] == "running"
    assert_problem(approval.post(url + "/resume", "adam"), 409)
