"""Every rule of every decision table, driven through the processes that use them."""

import pytest

from tests.processes.conftest import do

SR = dict(
    request_channel='email',
    customer_name='C',
    customer_contact='c',
    service_level='gold',
    request_category='fault',
    request_summary='s',
    request_content='c',
    impact='low',
    urgency='low',
)

PRIORITY = [
    ('high', 'high', 'P1', 90),
    ('high', 'medium', 'P2', 70),
    ('high', 'low', 'P3', 50),
    ('medium', 'high', 'P2', 70),
    ('medium', 'medium', 'P3', 50),
    ('medium', 'low', 'P4', 30),
    ('low', 'high', 'P3', 50),
    ('low', 'medium', 'P4', 30),
    ('low', 'low', 'P4', 30),
]


@pytest.mark.parametrize('impact,urgency,priority,weight', PRIORITY)
def test_service_priority(driver, impact, urgency, priority, weight):
    case = driver.start('service_request', {**SR, 'impact': impact, 'urgency': urgency}, user='desk1')
    assert (case.data['priority'], case.data['priority_weight']) == (priority, weight)
    assert case.open_tasks()[0].priority == weight  # camunda:priority="${priority_weight}"


# impact/urgency producing each priority
P = {'P1': ('high', 'high'), 'P2': ('high', 'medium'), 'P3': ('medium', 'medium'), 'P4': ('low', 'low')}
SLA = [
    ('P1', 'gold', 15, 4),
    ('P1', 'silver', 30, 8),
    ('P1', 'bronze', 60, 24),
    ('P2', 'gold', 30, 8),
    ('P2', 'silver', 60, 24),
    ('P2', 'bronze', 120, 48),
    ('P3', 'gold', 120, 24),
    ('P3', 'silver', 240, 48),
    ('P3', 'bronze', 480, 72),
    ('P4', 'gold', 240, 48),
    ('P4', 'silver', 480, 72),
    ('P4', 'bronze', 1440, 120),
]


@pytest.mark.parametrize('priority,level,response_min,resolution_h', SLA)
def test_service_sla(driver, priority, level, response_min, resolution_h):
    impact, urgency = P[priority]
    case = driver.start(
        'service_request', {**SR, 'impact': impact, 'urgency': urgency, 'service_level': level}, user='desk1'
    )
    d = case.data
    assert d['priority'] == priority
    assert (d['sla_response_minutes'], d['sla_resolution_hours']) == (response_min, resolution_h)


PR = dict(
    request_department='spare_parts',
    request_type='spare_parts',
    item_name='i',
    item_specification='s',
    quantity=1,
    estimated_unit_price=1.0,
    purchase_reason='r',
    budget_line='b',
    needed_by='2026-12-15',
)
APPROVAL = [  # amount, remaining budget, level, quotes
    (4999.99, 1000.0, 'general_manager', 1),  # rule 1: over budget, below threshold
    (5000.0, 4999.0, 'general_manager', 3),  # rule 2: over budget
    (4999.99, 5000.0, 'dept_manager', 1),  # rule 3
    (5000.0, 5000.0, 'dept_manager', 3),  # rule 4 (boundary: amount == remaining is within budget)
    (19999.0, 1e6, 'dept_manager', 3),  # rule 4
    (20000.0, 1e6, 'deputy_gm', 3),  # rule 5
    (99999.0, 1e6, 'deputy_gm', 3),  # rule 5
    (100000.0, 1e6, 'general_manager', 3),  # rule 6
]


@pytest.mark.parametrize('amount,remaining,level,quotes', APPROVAL)
def test_procurement_approval(driver, amount, remaining, level, quotes):
    case = driver.start('procurement_request', {**PR, 'estimated_unit_price': amount}, user='store1')
    do(case, 'technical_review', 'l2eng1', tech_fit='suitable')
    do(case, 'budget_check', 'finance1', remaining_budget=remaining)
    assert (case.data['approval_level'], case.data['required_quotes']) == (level, quotes)


PLANS = [
    ('system_failure', 'EP-SYS'),
    ('network_outage', 'EP-NET'),
    ('security_incident', 'EP-SEC'),
    ('data_loss', 'EP-DATA'),
    ('power_environment', 'EP-ENV'),
    ('other', 'EP-GEN'),
]


@pytest.mark.parametrize('event_type,plan', PLANS)
def test_emergency_plan(driver, event_type, plan):
    case = driver.start(
        'emergency_response',
        dict(
            event_title='t',
            event_description='d',
            event_source='staff',
            discovered_at='2026-11-22T08:00:00+08:00',
            affected_customers='c',
        ),
        user='desk1',
    )
    do(case, 'assess_event', 'emg1', is_emergency=True, event_type=event_type)
    assert case.data['recommended_plan'] == plan
    assert case.data['recommended_plan_name']
