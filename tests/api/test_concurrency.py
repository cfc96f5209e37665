"""Two people complete the same task at the same moment against a real waitress server: one wins, one gets 409."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from waitress.server import create_server

from tests.api.conftest import Client, start_case


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    srv = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.effective_port}"
    srv.close()
    thread.join(timeout=5)


def _post(url: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read()), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers["Content-Type"]


def test_two_people_complete_the_same_task_at_once(approval: Client, server: str) -> None:
    for _round in range(3):
        task_id = start_case(approval, publish_by="2030-01-02T03:04:05Z")["open_tasks"][0]["id"]
        barrier = threading.Barrier(2)
        results: dict[str, tuple[int, dict[str, Any], str]] = {}

        def complete(user: str, decision: str, task_id: str = task_id, barrier: threading.Barrier = barrier,
                     results: dict[str, tuple[int, dict[str, Any], str]] = results) -> None:
            token = approval.token(user)
            barrier.wait()
            results[user] = _post(f"{server}/api/tasks/{task_id}/complete", token, {"data": {"decision": decision}})

        threads = [threading.Thread(target=complete, args=("bob", "reject")),
                   threading.Thread(target=complete, args=("carol", "approve"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        statuses = sorted(status for status, _body, _type in results.values())
        assert statuses == [200, 409], results
        winner = next(user for user, (status, _b, _t) in results.items() if status == 200)
        loser = next(r for r in results.values() if r[0] == 409)
        assert loser[2].startswith("application/problem+json") and loser[1]["status"] == 409
        task = approval.get(f"/api/tasks/{task_id}", "adam").json
        assert task["state"] == "completed" and task["completed_by"] == winner
