"""The inbox: who sees which task, filters, text search, sorting and paging, all from the task table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

import engine.cases
import engine.runtime.compiler
import engine.runtime.state
from engine.core import Engine
from engine.views import Actor, TaskState, TaskView
from tests.conftest import ADMIN, ALICE, BOB, CAROL, DAVE, OWNER, fixture_files


@dataclass
class Inbox:
    engine: Engine
    cases: dict[str, str]  # business key -> case id
    d2_due: datetime


def dispatch(engine: Engine, business_key: str, *, handler: str = "", users: str = "", groups: str = "",
             priority: int = 50, due: str = "") -> str:
    data = {"handler": handler, "users": users, "groups": groups, "priority": priority, "due": due}
    return engine.instances.start("inbox_dispatch", data, ALICE, business_key=business_key).id


@pytest.fixture
def inbox(any_db_url: str, make_engine) -> Inbox:
    """Five cases of three diagrams; the business keys hold `%`, `_` and `-` on purpose.

    bob (reviewers):          mine D1.handle;        offered T1/T2.fix (user), T1/T2.budget, A1.review (group)
    carol (reviewers,workers): mine T1/T2.own;       offered T1/T2.budget, D2.handle (user+group), A1.review
    dave (workers):           mine nothing;         offered T1/T2.fix (user), D2.handle (group)
    """
    engine = make_engine(any_db_url, verify_state_writes=False)
    engine.definitions.deploy(fixture_files("inbox_triage.bpmn", "inbox_dispatch.bpmn", "approval.bpmn"), OWNER)
    d2_due = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    cases = {
        "INC_7": engine.instances.start("inbox_triage", {}, ALICE, business_key="INC_7").id,
        "INC-100%": engine.instances.start("inbox_triage", {}, ALICE, business_key="INC-100%").id,
        "CHG-1": dispatch(engine, "CHG-1", handler="bob", priority=10, due="2031-01-01T00:00:00Z"),
        "CHG-2": dispatch(engine, "CHG-2", users="carol", groups="workers", priority=95, due=d2_due.isoformat()),
        "REQ-1": engine.instances.start("approval", {"title": "New laptop", "amount": 5}, ALICE,
                                        business_key="REQ-1").id,
    }
    return Inbox(engine, cases, d2_due)


def tags(tasks: list[TaskView]) -> list[tuple[str | None, str]]:
    return [(t.business_key, t.element_id) for t in tasks]


def find(inbox: Inbox, business_key: str, element_id: str) -> TaskView:
    view = inbox.engine.instances.get(inbox.cases[business_key], ADMIN)
    (found,) = [t for t in view.open_tasks if t.element_id == element_id]
    return found


BOB_OFFERED = {("INC_7", "fix"), ("INC-100%", "fix"), ("INC_7", "budget"), ("INC-100%", "budget"),
               ("REQ-1", "review")}
CAROL_OFFERED = {("INC_7", "budget"), ("INC-100%", "budget"), ("CHG-2", "handle"), ("REQ-1", "review")}
DAVE_OFFERED = {("INC_7", "fix"), ("INC-100%", "fix"), ("CHG-2", "handle")}


def test_assigned_to_me(inbox: Inbox) -> None:
    query = inbox.engine.inbox.query
    (bobs,) = query(BOB, mine=True).items
    assert (bobs.business_key, bobs.element_id, bobs.assignee, bobs.state) == ("CHG-1", "handle", "bob",
                                                                               TaskState.CLAIMED)
    assert sorted(tags(query(CAROL, mine=True).items)) == [("INC-100%", "own"), ("INC_7", "own")]
    assert query(DAVE, mine=True).items == []
    assert query(ALICE, mine=True).total == 0


def test_offered_to_me_as_candidate_user_or_through_my_groups(inbox: Inbox) -> None:
    query = inbox.engine.inbox.query
    assert set(tags(query(BOB, candidate=True, per_page=50).items)) == BOB_OFFERED
    assert set(tags(query(CAROL, candidate=True, per_page=50).items)) == CAROL_OFFERED
    assert set(tags(query(DAVE, candidate=True, per_page=50).items)) == DAVE_OFFERED
    # a group name is not a user name, and a user name is not a group name
    assert query(Actor("reviewers"), candidate=True).total == 0
    assert query(Actor("eve", groups=frozenset({"bob"})), candidate=True).total == 0
    # without a filter the inbox shows both
    assert set(tags(query(BOB, per_page=50).items)) == BOB_OFFERED | {("CHG-1", "handle")}


def test_a_claimed_task_leaves_the_other_candidates_inboxes(inbox: Inbox) -> None:
    engine = inbox.engine
    fix = find(inbox, "INC_7", "fix")
    engine.tasks.claim(fix.id, DAVE)
    assert ("INC_7", "fix") not in set(tags(engine.inbox.query(BOB, candidate=True, per_page=50).items))
    assert ("INC_7", "fix") in set(tags(engine.inbox.query(DAVE, mine=True).items))
    engine.tasks.unclaim(fix.id, DAVE)
    assert set(tags(engine.inbox.query(BOB, candidate=True, per_page=50).items)) == BOB_OFFERED
    engine.instances.cancel(inbox.cases["REQ-1"], ALICE)  # a cancelled case's tasks leave every inbox
    assert set(tags(engine.inbox.query(BOB, candidate=True, per_page=50).items)) == BOB_OFFERED - {
        ("REQ-1", "review")}


def test_filter_by_process_key(inbox: Inbox) -> None:
    query = inbox.engine.inbox.query
    triage = query(BOB, key="inbox_triage", per_page=50).items
    assert {t.key for t in triage} == {"inbox_triage"} and len(triage) == 4
    assert tags(query(BOB, key="approval").items) == [("REQ-1", "review")]
    assert tags(query(BOB, key="inbox_dispatch").items) == [("CHG-1", "handle")]
    assert query(BOB, key="no_such_process").total == 0


def test_filter_by_state(inbox: Inbox) -> None:
    engine = inbox.engine
    fix = find(inbox, "INC_7", "fix")
    engine.tasks.claim(fix.id, BOB)
    other_fix = find(inbox, "INC-100%", "fix")
    engine.tasks.complete(other_fix.id, {}, BOB)
    claimed = engine.inbox.query(BOB, state="claimed", per_page=50).items
    assert sorted(tags(claimed)) == [("CHG-1", "handle"), ("INC_7", "fix")]
    assert {t.state for t in claimed} == {TaskState.CLAIMED}
    opened = engine.inbox.query(BOB, state="open", per_page=50).items
    assert set(tags(opened)) == BOB_OFFERED - {("INC_7", "fix"), ("INC-100%", "fix")}
    (done,) = engine.inbox.query(BOB, state="completed").items
    assert (done.id, done.completed_by, done.state) == (other_fix.id, "bob", TaskState.COMPLETED)
    assert other_fix.id not in {t.id for t in engine.inbox.query(BOB, per_page=50).items}  # default: open work


@pytest.mark.parametrize(("q", "expected"), [
    ("disks", {("INC_7", "fix"), ("INC-100%", "fix")}),
    ("DISKS", {("INC_7", "fix"), ("INC-100%", "fix")}),  # case does not matter
    ("REQ-1", {("REQ-1", "review")}),  # business key
    ("100%", {("INC_7", "fix"), ("INC-100%", "fix"), ("INC-100%", "budget")}),
    ("%", {("INC_7", "fix"), ("INC-100%", "fix"), ("INC-100%", "budget")}),  # a literal percent sign
    ("_", {("INC_7", "fix"), ("INC_7", "budget"), ("INC-100%", "budget")}),  # a literal underscore
    ("INC_", {("INC_7", "fix"), ("INC_7", "budget")}),  # not "INC" and any one character
    ("w_budget", {("INC_7", "budget"), ("INC-100%", "budget")}),
    ("nothing like this", set()),
])
def test_text_search_on_name_and_business_key_matches_literally(inbox: Inbox, q: str, expected: set) -> None:
    page = inbox.engine.inbox.query(BOB, candidate=True, q=q, per_page=50)
    assert set(tags(page.items)) == expected
    assert page.total == len(expected)


def test_sort_by_due_date_puts_tasks_without_one_last(inbox: Inbox) -> None:
    items = inbox.engine.inbox.query(CAROL, sort="due", per_page=50).items
    assert [t.element_id for t in items] == ["review", "budget", "budget", "handle", "own", "own"]
    dues = [t.due for t in items]
    assert dues[:4] == sorted(dues[:4]) and dues[4:] == [None, None]  # type: ignore[type-var]
    assert items[3].due == inbox.d2_due


def test_sort_by_priority_highest_first(inbox: Inbox) -> None:
    items = inbox.engine.inbox.query(CAROL, sort="priority", per_page=50).items
    assert [t.priority for t in items] == [95, 70, 50, 50, 20, 20]
    assert [t.element_id for t in items] == ["handle", "review", "own", "own", "budget", "budget"]
    # equal priorities: the older task first
    assert [t.business_key for t in items[2:4]] == ["INC_7", "INC-100%"]


def test_sort_by_created_newest_first(inbox: Inbox) -> None:
    items = inbox.engine.inbox.query(CAROL, sort="created", per_page=50).items
    created = [t.created for t in items]
    assert created == sorted(created, reverse=True)
    assert [t.business_key for t in items][:2] == ["REQ-1", "CHG-2"]
    assert items[-1].business_key == "INC_7"


def test_paging_gives_the_total_and_consecutive_slices(inbox: Inbox) -> None:
    query = inbox.engine.inbox.query
    everything = query(BOB, sort="priority", per_page=100).items
    assert len(everything) == 6
    pages = [query(BOB, sort="priority", page=n, per_page=4) for n in (1, 2, 3)]
    assert [p.total for p in pages] == [6, 6, 6]
    assert [len(p.items) for p in pages] == [4, 2, 0]
    assert [(p.page, p.per_page) for p in pages] == [(1, 4), (2, 4), (3, 4)]
    assert [t.id for p in pages for t in p.items] == [t.id for t in everything]
    filtered = query(BOB, q="%", page=2, per_page=2)
    assert (filtered.total, len(filtered.items)) == (3, 1)


def test_counts_for_the_inbox_tabs(inbox: Inbox) -> None:
    counts = inbox.engine.inbox.counts
    assert counts(BOB) == {"mine": 1, "candidate": 5}
    assert counts(CAROL) == {"mine": 2, "candidate": 4}
    assert counts(DAVE) == {"mine": 0, "candidate": 3}
    assert counts(ALICE) == {"mine": 0, "candidate": 0}
    inbox.engine.tasks.claim(find(inbox, "CHG-2", "handle").id, DAVE)
    assert counts(DAVE) == {"mine": 1, "candidate": 2}
    assert counts(CAROL) == {"mine": 2, "candidate": 3}


def test_the_inbox_never_loads_a_workflow(inbox: Inbox, make_engine, monkeypatch) -> None:
    def forbidden(*args, **kwargs):
        raise AssertionError("the inbox loaded a workflow")

    fresh = make_engine(inbox.engine.settings.database_url, verify_state_writes=False)  # empty caches
    for target, name in [(engine.cases.CaseStore, "load"), (engine.cases, "restore"),
                         (engine.runtime.state, "restore"), (engine.runtime.state.REGISTRY, "restore"),
                         (engine.runtime.compiler, "compile_bundle"), (engine.cases.CaseStore, "compiled_for")]:
        monkeypatch.setattr(target, name, forbidden)
    for actor in (BOB, CAROL, DAVE):
        for sort in ("due", "priority", "created"):
            assert fresh.inbox.query(actor, sort=sort, per_page=2).total > 0
        fresh.inbox.query(actor, mine=True, state="claimed", key="inbox_dispatch")
        fresh.inbox.query(actor, candidate=True, q="100%", page=2, per_page=1)
        fresh.inbox.counts(actor)
    top = fresh.inbox.query(CAROL, sort="priority").items[0]
    assert top.priority == 95
    with pytest.raises(AssertionError, match="loaded a workflow"):  # the trap is armed
        fresh.tasks.complete(top.id, {}, CAROL)
