"""Starting, completing, cancelling, suspending and resuming cases through the engine's services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.core import Engine
from engine.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from engine.views import AuditType, InstanceState, TaskState
from tests.conftest import ADMIN, ALICE, AUDITOR, BOB, CAROL, DAVE, OWNER, fixture_files


@pytest.fixture
def approval(engine: Engine) -> Engine:
    engine.definitions.deploy(fixture_files("approval.bpmn"), OWNER)
    return engine


def start(engine: Engine, **data: object):
    values = {"title": "New laptop", "amount": 1200, **data}
    return engine.instances.start("approval", values, ALICE, business_key="REQ-1")


def test_start_runs_to_the_first_user_task_with_its_assignment(approval: Engine) -> None:
    before = datetime.now(UTC)
    case = start(approval)
    assert case.state == InstanceState.RUNNING
    assert case.business_key == "REQ-1"
    assert case.started_by == "alice"
    assert case.data["requester"] == "alice"  # camunda:initiator
    assert case.data["title"] == "New laptop"
    (task,) = case.open_tasks
    assert (task.element_id, task.name, task.form_key) == ("review", "Review request", "approval_review")
    assert task.lane == "reviewers"
    assert task.candidate_groups == ["reviewers"]  # no assignment attribute: the lane names the group
    assert task.assignee is None and task.state == TaskState.OPEN
    assert task.priority == 70
    assert task.due is not None and before + timedelta(hours=2) <= task.due <= datetime.now(UTC) + timedelta(hours=2)
    assert "start" in case.completed_element_ids
    assert case.active_element_ids == ["review"]


def test_complete_moves_the_case_and_assigns_by_expression(approval: Engine) -> None:
    case = start(approval, publish_by="2030-01-02T03:04:05Z")
    review = case.open_tasks[0]
    after = approval.tasks.complete(review.id, {"decision": "approve", "comment": "ok"}, BOB)
    (publish,) = after.open_tasks
    assert publish.element_id == "publish"
    assert publish.assignee == "alice" and publish.state == TaskState.CLAIMED
    assert publish.due == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert after.data["decision"] == "approve"
    done = approval.tasks.complete(publish.id, {"published": True}, ALICE)
    assert done.state == InstanceState.COMPLETED
    assert done.ended_at is not None
    assert done.open_tasks == []
    assert {"review", "decide", "publish", "end_ok"} <= set(done.completed_element_ids)
    assert "end_rejected" not in done.completed_element_ids
    assert done.data["published"] is True


def test_reject_path_ends_at_the_other_end_event(approval: Engine) -> None:
    case = start(approval)
    done = approval.tasks.complete(case.open_tasks[0].id, {"decision": "reject"}, BOB)
    assert done.state == InstanceState.COMPLETED
    assert "end_rejected" in done.completed_element_ids and "publish" not in done.completed_element_ids


def test_completing_a_closed_task_is_a_conflict_and_changes_nothing(approval: Engine) -> None:
    case = start(approval)
    task_id = case.open_tasks[0].id
    approval.tasks.complete(task_id, {"decision": "reject"}, BOB)
    with pytest.raises(Conflict, match="no longer open"):
        approval.tasks.complete(task_id, {"decision": "approve"}, CAROL)
    assert approval.instances.get(case.id, ADMIN).data["decision"] == "reject"


def test_only_candidates_may_complete_and_starter_is_refused_by_separation_of_duties(approval: Engine) -> None:
    case = start(approval)
    task_id = case.open_tasks[0].id
    with pytest.raises(PermissionDenied, match="not offered to you"):
        approval.tasks.complete(task_id, {"decision": "approve"}, DAVE)
    reviewer_alice = ALICE.__class__("alice", groups=frozenset({"reviewers"}), roles=ALICE.roles)
    with pytest.raises(PermissionDenied, match=r"separation of duties.*you started this case"):
        approval.tasks.complete(task_id, {"decision": "approve"}, reviewer_alice)
    refused = approval.audit_events(type=AuditType.TASK_REFUSED)
    assert [e.actor for e in refused] == ["alice"]
    assert "separation of duties" in refused[0].data["reason"]
    assert approval.instances.get(case.id, ADMIN).open_tasks[0].state == TaskState.OPEN


def test_form_data_is_validated_and_undeclared_fields_are_dropped(approval: Engine) -> None:
    with pytest.raises(ValidationFailed) as err:
        approval.instances.start("approval", {"title": "x", "amount": -5, "contact": "nope"}, ALICE)
    assert set(err.value.errors) == {"title", "amount", "contact"}
    case = start(approval, sneaky="value")
    assert "sneaky" not in case.data
    task_id = case.open_tasks[0].id
    with pytest.raises(ValidationFailed) as err:
        approval.tasks.complete(task_id, {"decision": "maybe", "reference": "x1", "review_date": "31/12/2030"}, BOB,
                                language="zh")
    assert err.value.errors["decision"] == ["请从给定选项中选择"]
    assert set(err.value.errors) == {"decision", "reference", "review_date"}
    after = approval.tasks.complete(task_id, {"decision": "reject", "injected": "<script>"}, BOB)
    assert "injected" not in after.data


def test_claim_unclaim_and_assign(approval: Engine) -> None:
    case = start(approval)
    task_id = case.open_tasks[0].id
    claimed = approval.tasks.claim(task_id, BOB)
    assert (claimed.assignee, claimed.state) == ("bob", TaskState.CLAIMED)
    with pytest.raises(Conflict, match="already claimed by bob"):
        approval.tasks.claim(task_id, CAROL)
    with pytest.raises(PermissionDenied, match="assigned to bob"):
        approval.tasks.complete(task_id, {"decision": "approve"}, CAROL)
    with pytest.raises(PermissionDenied):
        approval.tasks.unclaim(task_id, CAROL)
    released = approval.tasks.unclaim(task_id, BOB)
    assert (released.assignee, released.state) == (None, TaskState.OPEN)
    with pytest.raises(PermissionDenied):
        approval.tasks.assign(task_id, "carol", BOB)
    assigned = approval.tasks.assign(task_id, "carol", ADMIN)
    assert assigned.assignee == "carol"
    types = [e.type for e in approval.audit_events(instance_id=case.id)]
    assert types == ["instance_started", "task_created", "task_claimed", "task_unclaimed", "task_assigned"]


def test_cancel_suspend_resume(approval: Engine) -> None:
    case = start(approval)
    task_id = case.open_tasks[0].id
    with pytest.raises(PermissionDenied):
        approval.instances.suspend(case.id, ALICE)
    assert approval.instances.suspend(case.id, ADMIN).state == InstanceState.SUSPENDED
    with pytest.raises(Conflict, match="suspended"):
        approval.tasks.complete(task_id, {"decision": "approve"}, BOB)
    assert approval.instances.resume(case.id, ADMIN).state == InstanceState.RUNNING
    with pytest.raises(PermissionDenied):
        approval.instances.cancel(case.id, BOB)
    cancelled = approval.instances.cancel(case.id, ALICE)
    assert cancelled.state == InstanceState.CANCELLED and cancelled.open_tasks == []
    with pytest.raises(Conflict):
        approval.tasks.complete(task_id, {"decision": "approve"}, BOB)
    with pytest.raises(Conflict):
        approval.instances.cancel(case.id, ALICE)
    types = [e.type for e in approval.audit_events(instance_id=case.id)]
    assert types[-3:] == ["instance_suspended", "instance_resumed", "instance_cancelled"]


def test_visibility_of_cases(approval: Engine) -> None:
    case = start(approval)
    assert approval.instances.get(case.id, ALICE).id == case.id  # started it
    assert approval.instances.get(case.id, BOB).id == case.id  # it is in his group's inbox
    assert approval.instances.get(case.id, AUDITOR).id == case.id
    with pytest.raises(PermissionDenied):
        approval.instances.get(case.id, DAVE)
    assert approval.instances.list(DAVE).total == 0
    assert approval.instances.list(ALICE).total == 1
    with pytest.raises(NotFound):
        approval.instances.get("no-such-case", ADMIN)


def test_restart_of_the_process_restores_from_the_database(approval: Engine, make_engine) -> None:
    case = start(approval, publish_by="2030-01-01T00:00:00Z")
    fresh = make_engine()  # a second process: empty caches
    after = fresh.tasks.complete(case.open_tasks[0].id, {"decision": "approve"}, BOB)
    assert after.open_tasks[0].element_id == "publish"
    # and the first process notices its cached copy is stale
    done = approval.tasks.complete(after.open_tasks[0].id, {"published": False}, ALICE)
    assert done.state == InstanceState.COMPLETED


def test_a_steps_answer_shows_the_open_tasks_as_a_fresh_read_does(any_db_url: str, make_engine) -> None:
    # a step that wrote every open inbox row itself answers from them without reading them back
    engine = make_engine(any_db_url)
    engine.definitions.deploy(fixture_files("approval.bpmn"), OWNER)
    case = start(engine, publish_by="2030-01-02T11:04:05+08:00")
    assert case.open_tasks == engine.instances.get(case.id, ADMIN).open_tasks
    after = engine.tasks.complete(case.open_tasks[0].id, {"decision": "approve", "comment": "ok"}, BOB)
    assert after.open_tasks and after.open_tasks == engine.instances.get(case.id, ADMIN).open_tasks
    assert after.open_tasks[0].due == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert after.open_tasks[0].due.utcoffset() == timedelta(0)
    done = engine.tasks.complete(after.open_tasks[0].id, {"published": True}, ALICE)
    assert done.open_tasks == [] == engine.instances.get(done.id, ADMIN).open_tasks


def test_a_step_reuses_the_cached_case_row_only_at_its_stored_version(
    approval: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.cases as cases_module

    reads: list[str] = []
    original = cases_module.read_case
    monkeypatch.setattr(cases_module, "read_case", lambda *a, **k: reads.append(a[2]) or original(*a, **k))
    case = start(approval, publish_by="2030-01-02T03:04:05Z")
    review = case.open_tasks[0]
    after = approval.tasks.complete(review.id, {"decision": "approve", "comment": "ok"}, BOB)
    assert reads == []  # the case row the start wrote, at the version the task's statement saw
    assert after.business_key == "REQ-1"

    # another writer changes the row (every writer bumps the version): the next step reads it afresh
    with approval.db.transaction() as session:
        approval.db.fast.execute(session, "UPDATE process_instance SET business_key = 'REQ-9', version = version + 1 "
                                          "WHERE id = :id", {"id": case.id})
    done = approval.tasks.complete(after.open_tasks[0].id, {"published": True}, ALICE)
    assert reads == [case.id]
    assert done.business_key == "REQ-9" and done.state == InstanceState.COMPLETED
    assert done.row_version == after.row_version + 2


def test_the_workflow_cache_keeps_open_cases_and_lets_go_of_ended_ones(approval: Engine) -> None:
    cached = approval.store.cache._entries
    ongoing, to_cancel = (start(approval, publish_by="2030-01-02T03:04:05Z") for _ in range(2))
    assert {ongoing.id, to_cancel.id} <= set(cached)  # the next step of an open case needs no restore

    after = approval.tasks.complete(ongoing.open_tasks[0].id, {"decision": "approve", "comment": "ok"}, BOB)
    assert ongoing.id in cached
    done = approval.tasks.complete(after.open_tasks[0].id, {"published": True}, ALICE)
    assert done.state == InstanceState.COMPLETED and done.id not in cached
    cancelled = approval.instances.cancel(to_cancel.id, ALICE)
    assert cancelled.state == InstanceState.CANCELLED and to_cancel.id not in cached
    # an ended case is still read in full from its rows
    assert approval.instances.get(done.id, ADMIN).data == done.data


def test_a_case_is_seen_by_who_started_it_was_assigned_it_or_is_offered_its_open_tasks(engine: Engine) -> None:
    """The four ways into "my cases" (engine.access.took_part), each found by its own index; a case once
    offered to a group is no longer theirs when the task is done, but stays with whoever did it."""
    engine.definitions.deploy(fixture_files("inbox_dispatch.bpmn"), OWNER)

    def dispatch(users: str = "", groups: str = "", handler: str = "") -> str:
        data = {"handler": handler, "users": users, "groups": groups, "priority": 10, "due": "2031-01-01T00:00:00Z"}
        return engine.instances.start("inbox_dispatch", data, ALICE).id

    def sees(actor: object) -> set[str]:
        listed = {c.id for c in engine.instances.list(actor).items}  # type: ignore[arg-type]
        for case_id in cases.values():
            try:
                engine.instances.get(case_id, actor)  # type: ignore[arg-type]
                assert case_id in listed, "readable but not listed"
            except PermissionDenied:
                assert case_id not in listed, "listed but not readable"
        return {name for name, case_id in cases.items() if case_id in listed}

    cases = {"to_dave": dispatch(users="dave"), "to_workers": dispatch(groups="workers"),
             "assigned_bob": dispatch(handler="bob")}
    assert sees(ALICE) == set(cases)  # started them all
    assert sees(DAVE) == {"to_dave", "to_workers"}
    assert sees(CAROL) == {"to_workers"}
    assert sees(BOB) == {"assigned_bob"}
    (task,) = engine.instances.get(cases["to_workers"], ADMIN).open_tasks
    engine.tasks.complete(task.id, {}, CAROL)
    assert sees(CAROL) == {"to_workers"}  # she did its task
    assert sees(DAVE) == {"to_dave"}  # offered to his group no longer: the task is done
    assert engine.instances.list(ADMIN, only_involved=True).total == 0
