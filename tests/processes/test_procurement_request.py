"""Procurement: 000 §2.4, §2.6.2; 001 篇1 §一.3, 篇9; 003 §八 — approval levels, quotes, inspection, SoD."""

import pytest

from tests.processes.conftest import do, groups_of, open_ids
from tests.processes.driver import NotAssignee, SeparationOfDutiesViolation

START = dict(
    request_department='spare_parts',
    request_type='spare_parts',
    item_name='服务器硬盘 2.4TB SAS',
    item_specification='10K RPM, 兼容 PowerEdge R740',
    quantity=2,
    estimated_unit_price=1000.0,
    purchase_reason='备件库存低于安全库存',
    budget_line='2026-运维-备件',
    needed_by='2026-12-15',
)


def start(driver, user='store1', **overrides):
    return driver.start('procurement_request', {**START, **overrides}, user=user)


def to_manager(case, remaining=50000.0, fit='suitable'):
    assert groups_of(case, 'technical_review') == ['second_line']
    do(case, 'technical_review', 'l2eng1', tech_fit=fit)
    if fit != 'suitable':
        return
    assert groups_of(case, 'budget_check') == ['finance']
    do(case, 'budget_check', 'finance1', remaining_budget=remaining)


def buy_and_receive(case, quotes=1, passed=True):
    assert groups_of(case, 'collect_quotes') == ['purchasing']
    do(case, 'collect_quotes', 'buyer1', quote_count=quotes)
    do(case, 'place_order', 'buyer1', supplier_name='青岛某科技')
    assert groups_of(case, 'goods_receipt') == ['spare_parts']
    do(case, 'goods_receipt', 'store1', inspection_passed=passed, received_quantity=2)


def test_small_request_within_budget_is_approved_by_the_manager_and_received(driver):
    case = start(driver)
    assert case.data['total_amount'] == 2000.0
    to_manager(case)
    assert case.data['approval_level'] == 'dept_manager' and case.data['required_quotes'] == 1
    # 001 篇9 部门经理签字: the requester's own manager (the store sits in operations), not the whole department
    task = case.task('manager_approval')
    assert (task.candidate_users, task.candidate_groups) == (['opsmgr1'], [])
    with pytest.raises(NotAssignee):
        do(case, 'manager_approval', 'l2eng1', manager_decision='approve')
    do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
    buy_and_receive(case)
    assert groups_of(case, 'rate_supplier') == ['purchasing']
    do(case, 'rate_supplier', 'buyer1', supplier_rating=4)
    assert case.is_completed and case.end_events == ['procurement_completed']
    assert case.data['supplier_rating'] == 4 and case.data['procurement_requester'] == 'store1'


def test_the_operations_managers_own_request_is_approved_by_their_superior(driver):
    case = start(
        driver,
        user='opsmgr1',
        request_department='ops_service',
        request_type='daily_supplies',
        item_name='网线与水晶头',
    )
    to_manager(case)
    assert case.task('manager_approval').candidate_users == ['gm1']  # not themselves: the head above them
    with pytest.raises((NotAssignee, SeparationOfDutiesViolation)):  # not offered to them, and their own request
        do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
    do(case, 'manager_approval', 'gm1', manager_decision='approve')
    assert open_ids(case) == ['collect_quotes']


def test_over_budget_needs_the_general_manager_and_three_quotes(driver):
    case = start(driver, quantity=10)  # 10 000 CNY
    to_manager(case, remaining=8000.0)
    assert case.data['approval_level'] == 'general_manager' and case.data['required_quotes'] == 3
    do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
    assert open_ids(case) == ['gm_approval']
    assert groups_of(case, 'gm_approval') == ['general_manager']
    with pytest.raises(SeparationOfDutiesViolation):
        do(case, 'gm_approval', 'store1', gm_decision='approve')
    do(case, 'gm_approval', 'gm1', gm_decision='approve')
    do(case, 'collect_quotes', 'buyer1', quote_count=2)
    assert open_ids(case) == ['collect_quotes']  # fewer than three quotes: collect more
    buy_and_receive(case, quotes=3)
    do(case, 'rate_supplier', 'buyer1')
    assert case.end_events == ['procurement_completed']


def test_large_request_within_budget_goes_to_the_deputy_gm(driver):
    case = start(driver, quantity=30)  # 30 000 CNY
    to_manager(case, remaining=200000.0)
    assert case.data['approval_level'] == 'deputy_gm'
    do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
    assert groups_of(case, 'deputy_gm_approval') == ['deputy_gm']
    with pytest.raises(SeparationOfDutiesViolation):
        do(case, 'deputy_gm_approval', 'store1', deputy_decision='approve')
    do(case, 'deputy_gm_approval', 'deputy1', deputy_decision='approve')
    buy_and_receive(case, quotes=3)
    do(case, 'rate_supplier', 'buyer1')
    assert case.end_events == ['procurement_completed']


@pytest.mark.parametrize('where', ['technical', 'manager', 'deputy', 'gm'])
def test_rejections_end_the_request(driver, where):
    qty = {'technical': 2, 'manager': 2, 'deputy': 30, 'gm': 10}[where]
    case = start(driver, quantity=qty)
    if where == 'technical':
        to_manager(case, fit='unsuitable')
    else:
        to_manager(case, remaining=8000.0 if where == 'gm' else 200000.0)
        do(
            case,
            'manager_approval',
            'opsmgr1',
            manager_decision='reject' if where == 'manager' else 'approve',
        )
        if where == 'deputy':
            do(case, 'deputy_gm_approval', 'deputy1', deputy_decision='reject')
        if where == 'gm':
            do(case, 'gm_approval', 'gm1', gm_decision='reject')
    assert case.is_completed and case.end_events == ['procurement_rejected']
    assert case.completed_by('collect_quotes') is None


@pytest.mark.through_api
def test_failed_inspection_returns_goods_and_the_supplier_redelivers(driver):
    case = start(driver)
    to_manager(case)
    do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
    buy_and_receive(case, passed=False)
    assert groups_of(case, 'return_goods') == ['purchasing']
    do(case, 'return_goods', 'buyer1', return_followup='redeliver', return_reason='型号不符')
    assert open_ids(case) == ['goods_receipt']
    do(case, 'goods_receipt', 'store1', inspection_passed=True)
    do(case, 'rate_supplier', 'buyer1', supplier_rating=2)
    assert case.end_events == ['procurement_completed']


def test_failed_inspection_can_cancel_the_order(driver):
    case = start(driver)
    to_manager(case)
    do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
    buy_and_receive(case, passed=False)
    do(case, 'return_goods', 'buyer1', return_followup='cancel')
    do(case, 'rate_supplier', 'buyer1', supplier_rating=1)
    assert case.is_completed and case.end_events == ['order_cancelled']


def test_two_people_handle_a_purchase(driver):
    """001 篇9 物品采购坚持两人以上经手: the buyer does not receive and inspect their own purchase, and a requester
    does not place their own order."""
    case = start(driver, user='opsmgr1', request_department='ops_service', request_type='daily_supplies')
    to_manager(case)
    do(case, 'manager_approval', 'gm1', manager_decision='approve')
    do(case, 'collect_quotes', 'buyer1', quote_count=1)
    with pytest.raises(SeparationOfDutiesViolation):
        do(case, 'place_order', 'opsmgr1', supplier_name='青岛某科技')
    do(case, 'place_order', 'buyer2', supplier_name='青岛某科技')
    for buyer in ('buyer1', 'buyer2'):
        with pytest.raises(SeparationOfDutiesViolation):
            do(case, 'goods_receipt', buyer, inspection_passed=True)
    do(case, 'goods_receipt', 'store1', inspection_passed=True)
    assert case.completed_by('goods_receipt') == 'store1'


def ordered(driver, order_amount):
    """A 2 000 CNY request approved by the manager, quoted once and ordered at `order_amount`."""
    case = start(driver)
    to_manager(case)
    do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
    do(case, 'collect_quotes', 'buyer1', quote_count=1)
    do(case, 'place_order', 'buyer1', supplier_name='青岛某科技', order_amount=order_amount)
    return case


def test_an_order_dearer_than_approved_is_checked_and_approved_again_at_its_amount(driver):
    """003 §八(二)1 超出预算的支出，需经过严格的审批流程: the approval is of an amount; an order above it goes back to
    finance and to the approver that amount needs (here the deputy GM, and three quotes), before any receipt."""
    case = ordered(driver, 30000.0)  # approved at 2 000 CNY: the manager alone, one quote
    assert open_ids(case) == ['budget_check']
    assert case.data['approved_amount'] == 2000.0 and case.data['total_amount'] == 30000.0
    do(case, 'budget_check', 'finance1', remaining_budget=200000.0)
    assert case.data['approval_level'] == 'deputy_gm' and case.data['required_quotes'] == 3
    do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
    do(case, 'deputy_gm_approval', 'deputy1', deputy_decision='approve')
    do(case, 'collect_quotes', 'buyer1', quote_count=3)
    do(case, 'place_order', 'buyer1', supplier_name='青岛某科技', order_amount=30000.0)
    assert open_ids(case) == ['goods_receipt']  # within what was approved now


def test_an_order_at_or_below_the_approved_amount_goes_straight_to_receipt(driver):
    case = ordered(driver, 2000.0)
    assert open_ids(case) == ['goods_receipt'] and 'approved_amount' not in case.data


def test_an_order_whose_new_approval_is_refused_is_cancelled_with_the_supplier(driver):
    case = ordered(driver, 30000.0)
    do(case, 'budget_check', 'finance1', remaining_budget=200000.0)
    do(case, 'manager_approval', 'opsmgr1', manager_decision='reject')
    assert open_ids(case) == ['cancel_order'] and groups_of(case, 'cancel_order') == ['purchasing']
    do(case, 'cancel_order', 'buyer1', cancellation_note='已电话通知供应商取消')
    assert case.is_completed and case.end_events == ['order_withdrawn']
