"""Messages from outside: correlation to the right waiting case, message start events, idempotent redelivery."""

from __future__ import annotations

import contextlib
import threading

import pytest
from sqlalchemy import func, select

from engine.core import Engine
from engine.db.models import MessageWait, ProcessInstance
from engine.errors import Conflict, NotFound, PermissionDenied
from engine.views import Actor, AuditType, InstanceState
from tests.conftest import ADMIN, ALICE, DAVE, OWNER, fixture_files

INTEGRATION = Actor("billing-system", roles=frozenset({"staff"}))


@pytest.fixture
def shop(any_db_url: str, make_engine) -> Engine:
    engine = make_engine(any_db_url)
    engine.definitions.deploy(fixture_files("messages.bpmn"), OWNER)
    return engine


def waits(engine: Engine) -> int:
    with engine.db.reading() as session:
        return session.execute(select(func.count()).select_from(MessageWait)).scalar_one()


def test_a_message_reaches_the_one_case_it_correlates_with(shop: Engine) -> None:
    cases = [shop.instances.start("awaits_payment", {"order_no": f"A-{n}"}, ALICE, business_key=f"BK-{n}")
             for n in range(3)]
    assert all(c.state == InstanceState.WAITING and c.active_element_ids == ["wait_payment"] for c in cases)
    assert waits(shop) == 3

    result = shop.messages.deliver("payment_received", {"order_no": "A-1"}, {"amount": 2500}, INTEGRATION)
    assert (result.instance_id, result.started) == (cases[1].id, False)
    paid = shop.instances.get(cases[1].id, ADMIN)
    assert paid.state == InstanceState.RUNNING
    assert [t.element_id for t in paid.open_tasks] == ["ship_big"]  # the gateway read the message data
    assert paid.data["payment_received"] == {"amount": 2500}
    for other in (cases[0], cases[2]):
        assert shop.instances.get(other.id, ADMIN).active_element_ids == ["wait_payment"]
    assert waits(shop) == 2
    received = shop.audit_events(type=AuditType.MESSAGE_RECEIVED)
    assert [(e.instance_id, e.actor, e.data["correlation"]) for e in received] == [
        (cases[1].id, "billing-system", {"order_no": "A-1"})]

    by_key = shop.messages.deliver("payment_received", {"business_key": "BK-2"}, {"amount": 10}, INTEGRATION)
    assert by_key.instance_id == cases[2].id
    assert [t.element_id for t in shop.instances.get(cases[2].id, ADMIN).open_tasks] == ["ship"]


def test_a_message_nobody_waits_for_is_404_and_changes_nothing(shop: Engine) -> None:
    case = shop.instances.start("awaits_payment", {"order_no": "A-1"}, ALICE)
    events = len(shop.audit_events())
    with pytest.raises(NotFound, match="no case waits for message 'payment_received'"):
        shop.messages.deliver("payment_received", {"order_no": "nope"}, {"amount": 1}, INTEGRATION)
    with pytest.raises(NotFound, match="no process starts on it"):
        shop.messages.deliver("unknown_message", {}, {}, INTEGRATION)
    assert shop.instances.get(case.id, ADMIN).active_element_ids == ["wait_payment"]
    assert len(shop.audit_events()) == events


def test_an_ambiguous_message_is_refused(shop: Engine) -> None:
    for _ in range(2):
        shop.instances.start("awaits_payment", {"order_no": "SAME"}, ALICE)
    with pytest.raises(Conflict, match="correlates with 2 waiting cases"):
        shop.messages.deliver("payment_received", {"order_no": "SAME"}, {"amount": 1}, INTEGRATION)


def test_redelivery_with_the_same_idempotency_key_has_effect_once(shop: Engine) -> None:
    first_case = shop.instances.start("awaits_payment", {"order_no": "A-1"}, ALICE)
    first = shop.messages.deliver("payment_received", {"order_no": "A-1"}, {"amount": 5}, INTEGRATION,
                                  idempotency_key="pay-123")
    second_case = shop.instances.start("awaits_payment", {"order_no": "A-1"}, ALICE)  # waits for the same message
    again = shop.messages.deliver("payment_received", {"order_no": "A-1"}, {"amount": 5}, INTEGRATION,
                                  idempotency_key="pay-123")
    assert again == first and again.instance_id == first_case.id
    assert shop.instances.get(second_case.id, ADMIN).active_element_ids == ["wait_payment"]
    assert len(shop.audit_events(type=AuditType.MESSAGE_RECEIVED)) == 1
    with pytest.raises(Conflict, match="already used"):
        shop.messages.deliver("ticket_opened", {}, {}, INTEGRATION, idempotency_key="pay-123")


def test_a_message_start_event_starts_a_case_once(shop: Engine) -> None:
    result = shop.messages.deliver("ticket_opened", {"business_key": "T-9"}, {"summary": "printer"}, INTEGRATION,
                                   idempotency_key="open-9")
    assert result.started
    case = shop.instances.get(result.instance_id, ADMIN)
    assert (case.key, case.business_key, case.started_by) == ("opened_by_message", "T-9", "billing-system")
    assert [t.element_id for t in case.open_tasks] == ["triage"]
    assert case.data["ticket_opened"] == {"summary": "printer"}
    assert shop.messages.deliver("ticket_opened", {}, {"summary": "printer"}, INTEGRATION,
                                 idempotency_key="open-9") == result
    with shop.db.reading() as session:
        assert session.execute(select(func.count()).select_from(ProcessInstance)
                               .where(ProcessInstance.process_key == "opened_by_message")).scalar_one() == 1


@pytest.mark.parametrize("message", ["payment_received", "ticket_opened"])
def test_two_deliveries_with_one_key_at_the_same_moment_have_effect_once(
        shop: Engine, make_engine, any_db_url: str, message: str) -> None:
    """Both see no receipt, then both deliver, each through its own engine (as two processes would): the one
    that commits first is the answer to both, and the other changes nothing and records no incident."""
    case = shop.instances.start("awaits_payment", {"order_no": "A-1"}, ALICE)
    engines = [shop, make_engine(any_db_url)]
    both_checked = threading.Barrier(2, timeout=10)
    for engine in engines:
        looked_up = engine.messages._receipt

        def receipt_then_wait(key: str, looked_up=looked_up):  # type: ignore[no-untyped-def]
            found = looked_up(key)
            if found is None and threading.current_thread().name.startswith("delivery"):
                with contextlib.suppress(threading.BrokenBarrierError):
                    both_checked.wait()  # the first look only: later ones run after a delivery failed
                both_checked.abort()
            return found

        engine.messages._receipt = receipt_then_wait  # type: ignore[method-assign]
    correlation = {"order_no": "A-1"} if message == "payment_received" else {"business_key": "T-1"}
    results: list[object] = []

    def deliver(engine: Engine) -> None:
        try:
            results.append(engine.messages.deliver(message, correlation, {"amount": 5}, INTEGRATION,
                                                   idempotency_key="same-key"))
        except Exception as exc:  # the test reports it
            results.append(exc)

    threads = [threading.Thread(target=deliver, args=(e,), name=f"delivery-{n}") for n, e in enumerate(engines)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 2 and results[0] == results[1], results
    assert len(shop.audit_events(type=AuditType.INCIDENT_CREATED)) == 0
    if message == "payment_received":
        assert results[0].instance_id == case.id  # type: ignore[attr-defined]
        assert len(shop.audit_events(type=AuditType.MESSAGE_RECEIVED)) == 1
    else:
        with shop.db.reading() as session:
            started = session.execute(select(func.count()).select_from(ProcessInstance)
                                      .where(ProcessInstance.process_key == "opened_by_message")).scalar_one()
        assert started == 1


def test_message_waits_follow_the_case_through_restore_and_cancel(shop: Engine, make_engine, any_db_url) -> None:
    case = shop.instances.start("awaits_payment", {"order_no": "A-1"}, ALICE)
    shop.instances.cancel(case.id, ALICE)
    assert waits(shop) == 0
    with pytest.raises(NotFound):
        shop.messages.deliver("payment_received", {"order_no": "A-1"}, {}, INTEGRATION)
    other = shop.instances.start("awaits_payment", {"order_no": "B-1"}, ALICE)
    fresh = make_engine(any_db_url)  # another process: restores the case from the database
    assert fresh.messages.deliver("payment_received", {"order_no": "B-1"}, {"amount": 1}, INTEGRATION).instance_id \
        == other.id


def test_sending_messages_needs_a_role(shop: Engine) -> None:
    with pytest.raises(PermissionDenied):
        shop.messages.deliver("ticket_opened", {}, {}, Actor("nobody"))
    assert DAVE.has_role("staff")
