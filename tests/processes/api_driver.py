"""The scenario tests' driver interface over the HTTP API, signed in as the org chart's demo users.

Each step is done by a real person in their role: a task assigned to someone is done by that person, an
offered task by a demo user of one of its candidate groups (never the case's starter). A scenario's starter
who is not a demo user is created as plain staff (anyone may file a request); other scenario user names
that are not demo users stand for "someone in the right role".
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from flask.testing import FlaskClient

from api import create_app
from engine.identity import Passwords
from engine.settings import Settings
from tests.processes.driver import (
    FindsTasks,
    FormValidationError,
    ModelIndex,
    NoSuchTask,
    NotAssignee,
    OpenTask,
    SeparationOfDutiesViolation,
)

PASSWORD = "demo-password-for-tests"


class ApiDriver:
    def __init__(self, processes_dir: Path, forms_dir: Path, database_url: str) -> None:
        settings = Settings(database_url=database_url, forms_dir=str(forms_dir), processes_dir=str(processes_dir),
                            secret_key="scenario-tests")
        cheap = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        self.app = create_app(settings, passwords=cheap)
        services = self.app.extensions["opsflow"]
        services.engine.migrate()
        chart = processes_dir / "org_chart.json"
        services.identity.load_org_chart(chart)
        self.demo = {u["username"]: set(u["groups"]) for u in json.loads(chart.read_text("utf-8"))["demo_users"]}
        for user in services.identity.demo_users(chart):
            services.identity.create_user(user.username, PASSWORD, groups=user.groups, roles=user.roles)
        self.identity = services.identity
        self.client: FlaskClient = self.app.test_client()
        self.tokens: dict[str, str] = {}
        files = [(io.BytesIO(p.read_bytes()), p.name) for p in sorted(processes_dir.iterdir())
                 if p.suffix in (".bpmn", ".dmn")]
        response = self.call("POST", "/api/process-definitions", "owner1", data={"files": files},
                             content_type="multipart/form-data")
        assert response.status_code == 201, response.json
        self.index = ModelIndex(str(processes_dir))

    def call(self, method: str, path: str, user: str, **kwargs: Any) -> Any:
        if user not in self.tokens:
            response = self.client.post("/api/auth/tokens", json={"username": user, "password": PASSWORD})
            assert response.status_code == 201, response.json
            self.tokens[user] = response.json["token"]
        headers = {"Authorization": f"Bearer {self.tokens[user]}", "Accept-Language": "zh-CN"}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def start(self, key: str, data: dict[str, Any] | None = None, user: str = "alice") -> ApiCase:
        starter = user
        if starter not in self.demo and starter not in self.tokens:
            self.identity.create_user(starter, PASSWORD, groups=[], roles=["staff"])
        response = self.call("POST", f"/api/process-definitions/{key}/instances", starter,
                             json={"data": dict(data or {}), "business_key": f"{key}-scenario"})
        if response.status_code == 422:
            raise FormValidationError(str(response.json))
        assert response.status_code == 201, response.json
        return ApiCase(self, key, response.json["id"], starter)


class ApiCase(FindsTasks):
    def __init__(self, driver: ApiDriver, key: str, instance_id: str, starter: str) -> None:
        self.driver, self.key, self.id, self.starter = driver, key, instance_id, starter
        self.done_by: dict[str, str] = {}

    def _case(self) -> dict[str, Any]:
        response = self.driver.call("GET", f"/api/process-instances/{self.id}", "auditor1")
        assert response.status_code == 200, response.json
        return response.json  # type: ignore[no-any-return]

    def open_tasks(self) -> list[OpenTask]:
        return [
            OpenTask(element_id=t["element_id"], name=t["name"], candidate_groups=t["candidate_groups"],
                     assignee=t["assignee"], form_key=t.get("form_key"), due_date=t.get("due"),
                     priority=t.get("priority"), process_key=t["key"], candidate_users=t["candidate_users"])
            for t in self._case()["open_tasks"]
        ]

    @property
    def is_completed(self) -> bool:
        return self._case()["state"] == "completed"

    @property
    def data(self) -> dict[str, Any]:
        return self._case()["data"]  # type: ignore[no-any-return]

    @property
    def end_events(self) -> list[str]:
        elements = self.driver.index.elements
        return [e for e in self._case()["completed_element_ids"]
                if (info := elements.get((self.key, e))) is not None and info.tag == "endEvent"]

    def completed_by(self, element_id: str) -> str | None:
        return self.done_by.get(element_id)

    def _person_for(self, task: dict[str, Any], asked: str) -> str:
        if task["assignee"]:
            return task["assignee"]  # type: ignore[no-any-return]
        if task["candidate_users"] and not task["candidate_groups"]:
            offered = [u for u in task["candidate_users"] if u != self.starter]
            assert offered, f"{task['element_id']} is offered to nobody but the starter"
            return asked if asked in offered else offered[0]  # type: ignore[no-any-return]
        groups = set(task["candidate_groups"])
        if asked in self.driver.demo and self.driver.demo[asked] & groups:
            return asked
        for user, member_of in self.driver.demo.items():
            if member_of & groups and user != self.starter and user not in self.done_by.values():
                return user
        for user, member_of in self.driver.demo.items():
            if member_of & groups and user != self.starter:
                return user
        raise AssertionError(f"no demo user in {sorted(groups)} for {task['element_id']}")

    def complete(self, element_id: str, data: dict[str, Any] | None = None, user: str = "bob") -> None:
        task = next((t for t in self._case()["open_tasks"] if t["element_id"] == element_id), None)
        if task is None:
            raise NoSuchTask(f"{element_id} is not open")
        person = self._person_for(task, user)
        inbox = self.driver.call("GET", "/api/tasks?candidate=1" if not task["assignee"] else "/api/tasks?mine=1",
                                 person)
        assert task["id"] in [t["id"] for t in inbox.json["items"]], f"{element_id} not in {person}'s inbox"
        if not task["assignee"]:
            claimed = self.driver.call("POST", f"/api/tasks/{task['id']}/claim", person)
            assert claimed.status_code == 200, claimed.json
        detail = self.driver.call("GET", f"/api/tasks/{task['id']}", person)
        assert detail.status_code == 200 and (detail.json["form"] is not None) == bool(task.get("form_key"))
        response = self.driver.call("POST", f"/api/tasks/{task['id']}/complete", person,
                                    json={"data": dict(data or {})})
        if response.status_code == 403:
            detail_text = response.json.get("detail", "")
            if "separation of duties" in detail_text:
                raise SeparationOfDutiesViolation(detail_text)
            raise NotAssignee(detail_text)
        if response.status_code == 422:
            raise FormValidationError(str(response.json.get("errors")))
        assert response.status_code == 200, response.json
        self.done_by[element_id] = person
        events = self.driver.call("GET", f"/api/audit/events?instance_id={self.id}&type=task_completed&per_page=500",
                                  "auditor1").json["items"]
        assert (events[-1]["actor"], events[-1]["task_id"]) == (person, task["id"])
