"""The scenario tests' driver interface, implemented on the real engine services.

Same interface as `driver.InMemoryDriver` (see its docstring), so every scenario runs both on plain
SpiffWorkflow and through opsflow's engine: sandboxed scripts, form validation, separation of duties,
inbox rows, audit events, incremental persistence with a restore-and-compare after every write.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.core import Engine
from engine.errors import NotFound, PermissionDenied, ValidationFailed
from engine.identity import IdentityService
from engine.settings import Settings
from engine.views import Actor, InstanceState, Role
from tests.processes.driver import (
    FindsTasks,
    FormValidationError,
    ModelIndex,
    NoSuchTask,
    NotAssignee,
    OpenTask,
    SeparationOfDutiesViolation,
)

ADMIN = Actor("admin", roles=frozenset({Role.ADMIN}))


class EngineDriver:
    def __init__(self, processes_dir: Path, forms_dir: Path, database_url: str) -> None:
        self.engine = Engine(Settings(database_url=database_url, forms_dir=str(forms_dir),
                                      processes_dir=str(processes_dir), verify_state_writes=True))
        self.engine.migrate()
        files = {p.name: p.read_bytes() for p in sorted(processes_dir.iterdir()) if p.suffix in (".bpmn", ".dmn")}
        owner = Actor("owner", roles=frozenset({Role.PROCESS_OWNER}))
        self.engine.definitions.deploy(files, owner)
        chart_path = processes_dir / "org_chart.json"
        chart = json.loads(chart_path.read_text("utf-8"))
        self.groups = frozenset(g["key"] for g in chart["groups"])
        # the org chart and its people (no passwords: nobody signs in), for the diagrams' unit_heads()
        identity = IdentityService(self.engine.db, self.engine.audit, self.engine.settings)
        identity.load_org_chart(chart_path)
        for user in identity.demo_users(chart_path):
            identity.create_user(user.username, None, groups=user.groups, roles=user.roles)
        self.index = ModelIndex(str(processes_dir))

    def actor(self, user: str) -> Actor:
        # Every scenario user may pick up any group's task; who is *offered* a task is asserted separately.
        return Actor(user, groups=self.groups, roles=frozenset({Role.STAFF}))

    def start(self, key: str, data: dict[str, Any] | None = None, user: str = "alice") -> EngineCase:
        try:
            view = self.engine.instances.start(key, dict(data or {}), self.actor(user))
        except ValidationFailed as exc:
            raise FormValidationError(f"{key}: {exc.errors}") from exc
        return EngineCase(self, key, view.id)

    def close(self) -> None:
        self.engine.close()


class EngineCase(FindsTasks):
    def __init__(self, driver: EngineDriver, key: str, instance_id: str) -> None:
        self.driver, self.key, self.id = driver, key, instance_id

    @property
    def _view(self) -> Any:
        return self.driver.engine.instances.get(self.id, ADMIN)

    def open_tasks(self) -> list[OpenTask]:
        return [
            OpenTask(
                element_id=t.element_id, name=t.name, candidate_groups=t.candidate_groups, assignee=t.assignee,
                form_key=t.form_key, due_date=t.due, priority=t.priority, process_key=t.key,
                candidate_users=t.candidate_users,
            )
            for t in self._view.open_tasks
        ]

    @property
    def is_completed(self) -> bool:
        return self._view.state == InstanceState.COMPLETED

    @property
    def data(self) -> dict[str, Any]:
        return dict(self._view.data)

    @property
    def end_events(self) -> list[str]:
        elements = self.driver.index.elements
        return [e for e in self._view.completed_element_ids
                if (info := elements.get((self.key, e))) is not None and info.tag == "endEvent"]

    def completed_by(self, element_id: str) -> str | None:
        events = self.driver.engine.audit_events(instance_id=self.id, type="task_completed")
        users = [e.actor for e in events if e.data.get("element_id") == element_id]
        return users[-1] if users else None

    def fire_timer(self, element_id: str) -> None:
        """Make the waiting timer due now (an admin reschedules it) and let a worker fire it."""
        engine = self.driver.engine
        engine.jobs.reschedule(self.id, element_id, datetime.now(UTC) - timedelta(seconds=1), ADMIN)
        before = len(engine.audit_events(instance_id=self.id, type="timer_fired"))
        deadline = time.monotonic() + 10
        while len(engine.audit_events(instance_id=self.id, type="timer_fired")) == before:
            assert time.monotonic() < deadline, f"timer {element_id} did not fire"
            engine.jobs.run_due("scenario-worker")

    def complete(self, element_id: str, data: dict[str, Any] | None = None, user: str = "bob") -> None:
        task = next((t for t in self._view.open_tasks if t.element_id == element_id), None)
        if task is None:
            raise NoSuchTask(f"{element_id} is not open; open: {[t.element_id for t in self.open_tasks()]}")
        try:
            self.driver.engine.tasks.complete(task.id, dict(data or {}), self.driver.actor(user))
        except PermissionDenied as exc:
            if "separation of duties" in str(exc):
                raise SeparationOfDutiesViolation(str(exc)) from exc
            raise NotAssignee(str(exc)) from exc
        except ValidationFailed as exc:
            raise FormValidationError(f"{task.form_key}: {exc.errors}") from exc
        except NotFound as exc:
            raise NoSuchTask(str(exc)) from exc
        # the completion is in the audit trail, by this person, with the data the form kept
        last = self.driver.engine.audit_events(instance_id=self.id, type="task_completed")[-1]
        assert (last.actor, last.task_id, last.data["element_id"]) == (user, task.id, element_id)
        assert set(last.data["data"]) <= set(data or {})
