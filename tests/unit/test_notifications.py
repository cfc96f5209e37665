"""Notices: written with the step that causes them, listed per person and group, mailed over SMTP."""

from __future__ import annotations

import json
import socket
import time

import pytest
from aiosmtpd.controller import Controller

from engine.core import Engine
from engine.errors import ScriptError
from engine.identity import IdentityService
from engine.views import Actor
from tests.conftest import ALICE, BOB, DAVE, OWNER, fixture_files


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp():
    """A real SMTP server on 127.0.0.1 that keeps what it receives."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_a_new_task_notifies_its_group_and_an_assigned_task_its_assignee(engine: Engine) -> None:
    engine.definitions.deploy(fixture_files("approval.bpmn"), OWNER)
    case = engine.instances.start("approval", {"title": "Laptop", "amount": 10, "publish_by": "2030-01-01T00:00:00Z"},
                                  ALICE)
    (offered,) = engine.notifications.for_actor(BOB).items  # bob is in "reviewers"
    assert (offered.kind, offered.recipient_kind, offered.recipient) == ("task_offered", "group", "reviewers")
    assert "Review request" in offered.subject and offered.task_id == case.open_tasks[0].id
    assert engine.notifications.for_actor(DAVE).total == 0
    engine.tasks.complete(case.open_tasks[0].id, {"decision": "approve"}, BOB)
    (assigned,) = engine.notifications.for_actor(ALICE).items
    assert (assigned.kind, assigned.recipient) == ("task_assigned", "alice")


def test_a_rolled_back_step_notifies_nobody(engine: Engine) -> None:
    engine.definitions.deploy(fixture_files("failing.bpmn"), OWNER)
    case = engine.instances.start("failing", {}, DAVE)
    before = engine.notifications.for_actor(DAVE).total
    with pytest.raises(ScriptError):
        engine.tasks.complete(case.open_tasks[0].id, {"note": "x"}, DAVE)
    assert engine.notifications.for_actor(DAVE).total == before


def test_deadline_notices_when_boundary_timers_fire(engine: Engine) -> None:
    engine.definitions.deploy(fixture_files("sla_timers.bpmn"), OWNER)
    engine.instances.start("sla_timers", {}, DAVE)
    deadline = time.monotonic() + 10
    while engine.notifications.for_actor(DAVE).total < 3:  # offered, then warning, then passed
        assert time.monotonic() < deadline
        engine.jobs.run_due("w")
        time.sleep(0.1)
    kinds = [n.kind for n in reversed(engine.notifications.for_actor(DAVE).items)]
    assert kinds == ["task_offered", "deadline_warning", "deadline_passed"]


def test_pending_notices_are_mailed_to_users_and_group_members(make_engine, smtp, tmp_path) -> None:
    inbox, port = smtp
    engine = make_engine(smtp_host="127.0.0.1", smtp_port=port, smtp_from="opsflow@example.test")
    identity = IdentityService(engine.db, engine.audit, engine.settings)
    chart = tmp_path / "org_chart.json"
    chart.write_text(json.dumps({"groups": [{"key": "reviewers", "name": {"zh": "审核", "en": "Reviewers"}}]}))
    identity.load_org_chart(chart)
    identity.create_user("bob", "a-long-password-1", groups=["reviewers"], roles=["staff"], email="bob@example.test")
    identity.create_user("rita", "a-long-password-2", groups=["reviewers"], roles=["staff"],
                         email="rita@example.test")
    identity.create_user("noemail", "a-long-password-3", groups=["reviewers"], roles=["staff"])
    engine.definitions.deploy(fixture_files("approval.bpmn"), OWNER)
    engine.instances.start("approval", {"title": "Laptop", "amount": 10}, Actor("alice", roles=frozenset({"staff"})))
    assert engine.mailer.send_pending() == 1
    ((recipients, content),) = inbox.messages
    assert sorted(recipients) == ["bob@example.test", "rita@example.test"]
    assert "Review request" in content and "/api/tasks/" in content
    assert engine.mailer.send_pending() == 0  # sent once
    (notice,) = engine.notifications.for_actor(BOB).items
    assert notice.email_state == "sent"


def test_nothing_is_mailed_without_smtp(engine: Engine) -> None:
    engine.definitions.deploy(fixture_files("approval.bpmn"), OWNER)
    engine.instances.start("approval", {"title": "Laptop", "amount": 10}, ALICE)
    assert not engine.mailer.configured and engine.mailer.send_pending() == 0
    assert engine.notifications.for_actor(BOB).items[0].email_state == "pending"
