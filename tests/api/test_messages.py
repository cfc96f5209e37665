"""POST /api/messages: 202 to the correlated case, 404 when nothing waits, idempotent redelivery."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Client, assert_problem, upload
from tests.conftest import fixture_files


@pytest.fixture
def shop(api: Client) -> Client:
    response = api.post("/api/process-definitions", "olivia", data=upload("messages.bpmn"),
                        content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    return api


def start(api: Client, order_no: str) -> dict[str, Any]:
    response = api.post("/api/process-definitions/awaits_payment/instances", "alice", json={"data": {"order_no": order_no}})
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


def test_a_message_is_delivered_to_the_correlated_case(shop: Client) -> None:
    first, second = start(shop, "A-1"), start(shop, "A-2")
    message = {"name": "payment_received", "correlation": {"order_no": "A-2"}, "data": {"amount": 2000}}
    response = shop.post("/api/messages", "dave", json=message, headers={"Idempotency-Key": "pay-A-2"})
    assert response.status_code == 202, response.json
    assert response.json == {"instance_id": second["id"], "started": False, "state": "running"}
    case = shop.get(f"/api/process-instances/{second['id']}", "adam").json
    assert [t["element_id"] for t in case["open_tasks"]] == ["ship_big"]
    assert case["data"]["payment_received"] == {"amount": 2000}
    assert shop.get(f"/api/process-instances/{first['id']}", "adam").json["active_element_ids"] == ["wait_payment"]
    again = shop.post("/api/messages", "dave", json=message, headers={"Idempotency-Key": "pay-A-2"})
    assert (again.status_code, again.json) == (202, response.json)
    events = shop.get("/api/audit/events?type=message_received", "audrey").json
    assert events["total"] == 1


def test_problems(shop: Client) -> None:
    start(shop, "A-1")
    assert_problem(shop.post("/api/messages", None, json={"name": "payment_received"}), 401)
    body = assert_problem(shop.post("/api/messages", "dave",
                                    json={"name": "payment_received", "correlation": {"order_no": "zzz"}}), 404)
    assert "no case waits for message 'payment_received'" in body["detail"]
    start(shop, "A-1")
    assert_problem(shop.post("/api/messages", "dave",
                             json={"name": "payment_received", "correlation": {"order_no": "A-1"}}), 409)
    assert_problem(shop.post("/api/messages", "dave", json={"correlation": {}}), 422)


def test_a_message_start_event_starts_a_case(shop: Client) -> None:
    response = shop.post("/api/messages", "dave", json={"name": "ticket_opened", "data": {"summary": "printer"}})
    assert response.status_code == 202 and response.json["started"] is True
    case = shop.get(f"/api/process-instances/{response.json['instance_id']}", "adam").json
    assert case["key"] == "opened_by_message" and case["data"]["ticket_opened"] == {"summary": "printer"}


def test_a_message_starts_a_case_only_for_those_who_may_start_the_process(api: Client) -> None:
    xml = fixture_files("messages.bpmn")["messages.bpmn"].replace(
        b'<bpmn:process id="opened_by_message" name="Opened by message" isExecutable="true">',
        b'<bpmn:process id="opened_by_message" name="Opened by message" isExecutable="true" '
        b'camunda:candidateStarterGroups="workers">')
    deployed = api.post("/api/process-definitions", "olivia", data=upload(content={"messages.bpmn": xml}),
                        content_type="multipart/form-data")
    assert deployed.status_code == 201, deployed.json
    message = {"name": "ticket_opened", "data": {"summary": "printer"}}
    body = assert_problem(api.post("/api/messages", "alice", json=message), 403)  # alice: requesters only
    assert body["reason"] == "start_not_allowed"
    assert api.get("/api/process-instances", "adam").json["total"] == 0
    assert api.post("/api/messages", "dave", json=message).status_code == 202  # dave: workers
