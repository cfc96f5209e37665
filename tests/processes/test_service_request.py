"""Service request: 003 §三(一)–(三), 000 §2.6.1, 001 篇4 — every end event, SLA timers, emergency call."""

import os
from datetime import datetime, timedelta

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from tests.processes.conftest import PROCESSES, do, groups_of, open_ids
from tests.processes.driver import SeparationOfDutiesViolation

START = dict(
    request_channel='hotline',
    customer_name='青岛某银行',
    customer_contact='李工 13800000000',
    service_level='gold',
    request_category='fault',
    request_summary='邮件系统无法发信',
    request_content='全行邮件无法外发',
    impact='high',
    urgency='high',
)


def start(driver, **overrides):
    return driver.start('service_request', {**START, **overrides}, user='desk1')


def assess(case, urgent=False):
    assert groups_of(case, 'assess_request') == ['first_line']
    do(case, 'assess_request', 'l1eng1', urgent_fault=urgent)


def callback(case, resolved=True, score=5):
    assert groups_of(case, 'customer_callback') == ['service_desk']
    do(case, 'customer_callback', 'desk1', issue_confirmed_resolved=resolved, satisfaction_score=score)


@pytest.mark.through_api
def test_first_line_resolves_from_the_knowledge_base_and_the_request_is_closed(driver):
    case = start(driver)
    assert case.data['priority'] == 'P1' and case.data['sla_resolution_hours'] == 4
    assert case.data['request_recorder'] == 'desk1'
    assert open_ids(case) == ['assess_request']
    task = case.open_tasks()[0]
    assert task.form_key == 'service_request_assess'
    assess(case)
    assert groups_of(case, 'first_line_handle') == ['first_line']
    do(case, 'first_line_handle', 'l1eng1', fl_outcome='resolved', kb_reference='KB-0042')
    assert groups_of(case, 'test_fix') == ['first_line', 'second_line']
    do(case, 'test_fix', 'l1eng1', test_passed=True, kb_candidate=False)
    callback(case)
    assert case.is_completed
    assert case.end_events == ['request_closed']
    assert case.data['satisfaction_score'] == 5 and case.data['fl_outcome'] == 'resolved'
    assert case.completed_by('first_line_handle') == 'l1eng1'
    assert case.completed_by('customer_callback') == 'desk1'


def test_escalation_to_second_line_and_vendor_then_knowledge_published_after_revision(driver):
    case = start(driver, impact='medium', urgency='medium', service_level='silver')
    assess(case)
    do(case, 'first_line_handle', 'l1eng1', fl_outcome='escalate_second_line')
    assert groups_of(case, 'second_line_handle') == ['second_line']
    do(case, 'second_line_handle', 'l2eng1', sl_outcome='escalate_vendor')
    assert groups_of(case, 'vendor_handle') == ['vendor_liaison']
    do(case, 'vendor_handle', 'vendor1', vendor_name='华为')
    do(case, 'test_fix', 'l2eng1', test_passed=True, kb_candidate=True)
    callback(case, score=4)
    assert groups_of(case, 'submit_knowledge') == ['first_line', 'second_line']
    do(case, 'submit_knowledge', 'l2eng1', kb_title='邮件网关证书过期处理')
    assert groups_of(case, 'review_knowledge') == ['service_knowledge']
    with pytest.raises(SeparationOfDutiesViolation):  # the author may not review their own article
        do(case, 'review_knowledge', 'l2eng1', kb_review_decision='publish')
    do(case, 'review_knowledge', 'kb1', kb_review_decision='revise')
    do(case, 'submit_knowledge', 'l2eng1', kb_title='邮件网关证书过期处理（修订）')
    do(case, 'review_knowledge', 'kb1', kb_review_decision='publish')
    assert case.is_completed and case.end_events == ['knowledge_published']
    assert case.data['kb_title'].endswith('（修订）') and case.data['vendor_name'] == '华为'


def test_second_line_resolves_and_knowledge_article_is_rejected(driver):
    case = start(driver)
    assess(case)
    do(case, 'first_line_handle', 'l1eng1', fl_outcome='escalate_second_line')
    do(case, 'second_line_handle', 'l2eng1', sl_outcome='resolved')
    do(case, 'test_fix', 'l2eng1', test_passed=True, kb_candidate=True)
    callback(case)
    do(case, 'submit_knowledge', 'l1eng1')
    do(case, 'review_knowledge', 'kb1', kb_review_decision='reject')
    assert case.is_completed and case.end_events == ['knowledge_rejected']


def test_first_line_escalates_directly_to_the_vendor(driver):
    case = start(driver)
    assess(case)
    do(case, 'first_line_handle', 'l1eng1', fl_outcome='escalate_vendor')
    assert open_ids(case) == ['vendor_handle']
    do(case, 'vendor_handle', 'vendor1')
    do(case, 'test_fix', 'l1eng1', test_passed=True, kb_candidate=False)
    callback(case)
    assert case.end_events == ['request_closed']


def test_failed_test_sends_the_request_back_to_first_line(driver):
    case = start(driver)
    assess(case)
    do(case, 'first_line_handle', 'l1eng1', fl_outcome='resolved')
    do(case, 'test_fix', 'l1eng1', test_passed=False)
    assert open_ids(case) == ['first_line_handle']
    do(case, 'first_line_handle', 'l1eng1', fl_outcome='resolved')
    do(case, 'test_fix', 'l1eng1', test_passed=True, kb_candidate=False)
    callback(case)
    assert case.end_events == ['request_closed']


@pytest.mark.parametrize('resolved,score', [(False, 5), (True, 2)])
def test_unsatisfied_customer_reopens_the_case(driver, resolved, score):
    case = start(driver)
    assess(case)
    do(case, 'first_line_handle', 'l1eng1', fl_outcome='resolved')
    do(case, 'test_fix', 'l1eng1', test_passed=True, kb_candidate=False)
    callback(case, resolved=resolved, score=score)
    assert not case.is_completed
    assert open_ids(case) == ['assess_request']  # the handling starts again
    assert case.data['reopen_count'] == 1
    assess(case)
    do(case, 'first_line_handle', 'l1eng1', fl_outcome='escalate_second_line')
    do(case, 'second_line_handle', 'l2eng1', sl_outcome='resolved')
    do(case, 'test_fix', 'l2eng1', test_passed=True, kb_candidate=False)
    callback(case, score=4)
    assert case.is_completed and case.end_events == ['request_closed']
    assert case.data['reopen_count'] == 1


def run_emergency(case, assessed=False):
    """The emergency procedure of an urgent fault, from its assessment (unless `assessed`) to its evaluation
    (000 §2.9)."""
    if not assessed:
        do(case, 'assess_event', 'emg1', is_emergency=True, event_type='network_outage', event_level='II')
    do(case, 'activate_plan', 'deputy1', activated_plan='EP-NET')
    do(case, 'handle_emergency', 'l2eng1', service_restored=True)
    do(case, 'report_to_superiors', 'emg1')
    do(case, 'inform_customers', 'emg1')
    do(case, 'evaluate_response', 'emg1')
    do(case, 'improve_plan', 'emg1')


def test_urgent_fault_runs_the_emergency_procedure_beside_fault_handling(driver):
    case = start(driver)
    assert groups_of(case, 'assess_request') == ['first_line']
    do(case, 'assess_request', 'l1eng1', urgent_fault=True, severity='critical')
    # the emergency procedure starts at once (003 §三(三)1) and the root cause is looked for meanwhile
    assert open_ids(case) == ['assess_event', 'first_line_handle']
    assert groups_of(case, 'assess_event') == ['emergency_group']
    assert case.data['event_title'] == START['request_summary']
    assert case.data['event_source'] == 'service_request'
    do(case, 'first_line_handle', 'l1eng1', fl_outcome='escalate_second_line')
    run_emergency(case)
    assert open_ids(case) == ['second_line_handle']
    do(case, 'second_line_handle', 'l2eng1', sl_outcome='resolved')
    do(case, 'test_fix', 'l2eng1', test_passed=True, kb_candidate=False)
    callback(case)
    assert case.is_completed and case.end_events == ['emergency_procedure_closed', 'request_closed']
    assert case.data['activated_plan'] == 'EP-NET' and case.data['recommended_plan'] == 'EP-NET'
    # the emergency's own level is kept beside the request's assessment, not over it
    assert case.data['severity'] == 'critical' and case.data['event_level'] == 'II'


def test_a_reopened_urgent_request_does_not_raise_its_emergency_a_second_time(driver):
    case = start(driver)
    do(case, 'assess_request', 'l1eng1', urgent_fault=True)
    do(case, 'first_line_handle', 'l1eng1', fl_outcome='resolved')
    do(case, 'test_fix', 'l1eng1', test_passed=True, kb_candidate=False)
    callback(case, resolved=False)
    do(case, 'assess_request', 'l1eng1', urgent_fault=True)  # still urgent: the same fault, the same emergency
    assert sorted(open_ids(case)) == ['assess_event', 'first_line_handle']
    run_emergency(case)
    do(case, 'first_line_handle', 'l1eng1', fl_outcome='resolved')
    do(case, 'test_fix', 'l1eng1', test_passed=True, kb_candidate=False)
    callback(case)
    assert case.is_completed and case.end_events == ['emergency_procedure_closed', 'request_closed']


def test_an_urgent_request_reopened_after_an_sla_breach_does_not_raise_its_emergency_again(driver):
    """The breach cancels the handling and its data; the case's data object still knows the emergency was raised."""
    case = start(driver)
    do(case, 'assess_request', 'l1eng1', urgent_fault=True)
    assert sorted(open_ids(case)) == ['assess_event', 'first_line_handle']
    case.fire_timer('sla_breach_timer')
    do(case, 'sla_breach_escalation', 'opsmgr1', kb_candidate=False)
    do(case, 'test_escalated_fix', 'l2eng1', test_passed=True, kb_candidate=False)
    callback(case, resolved=False)
    assert case.data['emergency_raised_before'] is True
    do(case, 'assess_request', 'l1eng1', urgent_fault=True)
    assert sorted(open_ids(case)) == ['assess_event', 'first_line_handle']  # still the one emergency


def test_a_request_closed_before_its_emergency_is_evaluated_stays_open_for_the_evaluation(driver):
    case = start(driver)
    do(case, 'assess_request', 'l1eng1', urgent_fault=True)
    do(case, 'first_line_handle', 'l1eng1', fl_outcome='resolved')
    do(case, 'test_fix', 'l1eng1', test_passed=True, kb_candidate=False)
    callback(case)
    assert not case.is_completed and open_ids(case) == ['assess_event']  # 000 §2.9 3): evaluated all the same
    run_emergency(case)
    assert case.is_completed and case.end_events == ['request_closed', 'emergency_procedure_closed']


# ---- SLA timers ----------------------------------------------------------------------------------------
def timer_specs():
    ns = {'bpmn': 'http://www.omg.org/spec/BPMN/20100524/MODEL'}
    t = etree.parse(os.path.join(PROCESSES, 'service_request.bpmn'))
    out = {}
    for be in t.iterfind('.//bpmn:boundaryEvent', ns):
        expr = be.find('bpmn:timerEventDefinition/bpmn:timeDuration', ns)
        out[be.get('id')] = (
            be.get('attachedToRef'),
            be.get('cancelActivity'),
            expr.text if expr is not None else None,
        )
    return out


def duration(iso):
    return TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(iso))


def test_sla_boundary_timers_warn_at_75_percent_and_escalate_at_100_percent():
    specs = timer_specs()
    assert specs['sla_warning_timer'] == ('handle_request', 'false', 'sla_warning_after')  # non-interrupting
    assert specs['sla_breach_timer'] == ('handle_request', 'true', 'sla_breach_after')  # interrupting


@pytest.mark.parametrize(
    'impact,urgency,level,response_min,resolution_h',
    [
        ('high', 'high', 'gold', 15, 4),  # P1
        ('high', 'high', 'bronze', 60, 24),  # P1
        ('high', 'medium', 'silver', 60, 24),  # P2
        ('medium', 'medium', 'bronze', 480, 72),  # P3
        ('low', 'low', 'gold', 240, 48),  # P4
        ('low', 'low', 'bronze', 1440, 120),  # P4
    ],
)
def test_sla_timer_expressions_evaluate_to_iso_durations(
    driver, impact, urgency, level, response_min, resolution_h
):
    case = start(driver, impact=impact, urgency=urgency, service_level=level)
    data = case.data
    specs = timer_specs()
    warn = eval(specs['sla_warning_timer'][2], {}, dict(data))
    breach = eval(specs['sla_breach_timer'][2], {}, dict(data))
    assert warn.startswith('P') and breach.startswith('P')
    assert duration(warn) == timedelta(hours=resolution_h * 0.75)
    assert duration(breach) == timedelta(hours=resolution_h)
    task = case.open_tasks()[0]
    due = task.due_date if isinstance(task.due_date, datetime) else datetime.fromisoformat(task.due_date)
    assert due == datetime.fromisoformat(data['sla_response_due'])  # camunda:dueDate="${sla_response_due}"


def test_sla_warning_timer_lets_the_desk_chase_the_handler_without_interrupting(driver):
    case = start(driver)
    assess(case)
    case.fire_timer('sla_warning_timer')
    assert open_ids(case) == ['first_line_handle', 'sla_warning']
    assert groups_of(case, 'sla_warning') == ['service_desk']
    do(case, 'sla_warning', 'desk1', warning_action='reminded_handler')
    assert 'sla_warning_logged' in case.end_events and not case.is_completed
    do(case, 'first_line_handle', 'l1eng1', fl_outcome='resolved')
    do(case, 'test_fix', 'l1eng1', test_passed=True, kb_candidate=False)
    callback(case)
    assert case.is_completed
    assert sorted(case.end_events) == ['request_closed', 'sla_warning_logged']


def test_sla_breach_interrupts_handling_and_escalates_to_the_manager(driver):
    case = start(driver)
    assess(case)
    do(case, 'first_line_handle', 'l1eng1', fl_outcome='escalate_second_line')
    case.fire_timer('sla_breach_timer')
    assert open_ids(case) == ['sla_breach_escalation']  # second-line task was cancelled
    assert groups_of(case, 'sla_breach_escalation') == ['ops_service']
    do(case, 'sla_breach_escalation', 'opsmgr1', kb_candidate=False)
    # 003 §三(三)3: the escalated fix is tested like any other before the customer is called back
    assert open_ids(case) == ['test_escalated_fix']
    assert groups_of(case, 'test_escalated_fix') == ['first_line', 'second_line']
    do(case, 'test_escalated_fix', 'l2eng1', test_passed=False)
    assert open_ids(case) == ['sla_breach_escalation']  # not yet: back to the escalated handling
    do(case, 'sla_breach_escalation', 'opsmgr1', kb_candidate=False)
    do(case, 'test_escalated_fix', 'l2eng1', test_passed=True, kb_candidate=False)
    callback(case)
    assert case.is_completed and case.end_events == ['request_closed']
    assert case.completed_by('second_line_handle') is None


def test_sla_breach_escalates_the_fault_but_leaves_a_running_emergency_procedure_alone(driver):
    case = start(driver)
    do(case, 'assess_request', 'l1eng1', urgent_fault=True)
    do(case, 'assess_event', 'emg1', is_emergency=True, event_type='network_outage', event_level='II')
    case.fire_timer('sla_breach_timer')
    # the fault handling is taken over by the manager; the emergency goes on where it was
    assert open_ids(case) == ['activate_plan', 'sla_breach_escalation']
    do(case, 'sla_breach_escalation', 'opsmgr1', kb_candidate=False)
    do(case, 'test_escalated_fix', 'l1eng1', test_passed=True, kb_candidate=False)
    callback(case)
    assert not case.is_completed
    run_emergency(case, assessed=True)
    assert case.is_completed and case.end_events == ['request_closed', 'emergency_procedure_closed']
    assert case.completed_by('first_line_handle') is None
