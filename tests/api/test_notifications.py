"""GET /api/notifications: a person's and their groups' notices."""

from __future__ import annotations

from tests.api.conftest import Client, assert_problem, start_case


def test_notices_show_in_the_inbox(approval: Client) -> None:
    case = start_case(approval)
    assert_problem(approval.get("/api/notifications"), 401)
    response = approval.get("/api/notifications", "bob")
    assert response.status_code == 200
    (notice,) = response.json["items"]
    assert (notice["kind"], notice["recipient"], notice["task_id"]) == ("task_offered", "reviewers",
                                                                         case["open_tasks"][0]["id"])
    assert approval.get("/api/notifications", "dave").json["total"] == 0
