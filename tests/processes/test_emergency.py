"""Emergency response and the quarterly drill: 000 §2.9, §2.2 6), 003 §七(六)."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from tests.processes.conftest import PROCESSES, do, groups_of, open_ids

START = dict(
    event_title='机房A市电中断',
    event_description='UPS 已切换，预计维持 30 分钟',
    event_source='monitoring',
    discovered_at='2026-11-22T08:00:00+08:00',
    affected_customers='全部托管客户',
)


@pytest.mark.through_api
def test_emergency_is_classified_activated_handled_in_parallel_and_evaluated(driver):
    case = driver.start('emergency_response', START, user='desk1')
    assert case.data['event_reporter'] == 'desk1'
    assert groups_of(case, 'assess_event') == ['emergency_group']
    do(case, 'assess_event', 'emg1', is_emergency=True, event_type='power_environment', event_level='I')
    assert case.data['recommended_plan'] == 'EP-ENV'
    assert groups_of(case, 'activate_plan') == ['deputy_gm']
    do(case, 'activate_plan', 'deputy1', activated_plan='EP-ENV')
    assert open_ids(case) == ['handle_emergency', 'inform_customers', 'report_to_superiors']
    assert groups_of(case, 'handle_emergency') == ['ops_service', 'second_line']
    assert groups_of(case, 'report_to_superiors') == ['emergency_group']
    assert groups_of(case, 'inform_customers') == ['emergency_group']
    do(case, 'report_to_superiors', 'emg1', report_recipients='general_manager')
    do(case, 'handle_emergency', 'l2eng1', service_restored=False)
    assert 'handle_emergency' in open_ids(case)  # not restored yet: keep handling
    do(case, 'handle_emergency', 'l2eng1', service_restored=True)
    assert open_ids(case) == ['inform_customers']  # the join waits for the customer notice
    do(case, 'inform_customers', 'emg1')
    assert open_ids(case) == ['evaluate_response']
    do(case, 'evaluate_response', 'emg1', response_rating='partially_effective')
    do(case, 'improve_plan', 'emg1', plan_improvements='增加柴油发电机切换演练')
    assert case.is_completed and case.end_events == ['emergency_closed']
    assert case.data['service_restored'] is True and case.data['report_recipients'] == 'general_manager'


def test_event_that_is_no_emergency_is_handled_normally(driver):
    case = driver.start('emergency_response', START, user='desk1')
    do(case, 'assess_event', 'emg1', is_emergency=False)
    assert case.is_completed and case.end_events == ['event_downgraded']


# ---- drill -------------------------------------------------------------------------------------------
def drill_timer():
    ns = {'bpmn': 'http://www.omg.org/spec/BPMN/20100524/MODEL'}
    t = etree.parse(os.path.join(PROCESSES, 'emergency_drill.bpmn'))
    starts = t.findall('bpmn:process/bpmn:startEvent', ns)
    assert len(starts) == 1
    return starts[0].find('bpmn:timerEventDefinition/bpmn:timeCycle', ns).text


def test_drill_timer_is_a_quarterly_repeating_cycle_spiffworkflow_accepts():
    expression = drill_timer()
    value = eval(expression)
    cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(value)
    assert cycles == -1  # repeats for ever
    assert timedelta(days=89) <= duration <= timedelta(days=92)
    assert start > datetime.now(UTC) + timedelta(days=88)


def test_drill_plan_is_revised_approved_conducted_reviewed_and_the_plan_updated(driver):
    case = driver.start('emergency_drill', {}, user='scheduler')
    assert open_ids(case) == []  # waits for the quarterly timer
    case.fire_timer('drill_due')
    assert groups_of(case, 'plan_drill') == ['emergency_group']
    do(case, 'plan_drill', 'emg1', drill_scenario='EP-NET')
    assert groups_of(case, 'approve_drill_plan') == ['deputy_gm']
    do(case, 'approve_drill_plan', 'deputy1', drill_plan_decision='revise')
    do(case, 'plan_drill', 'emg1', drill_scenario='EP-SEC')
    do(case, 'approve_drill_plan', 'deputy1', drill_plan_decision='approve')
    assert groups_of(case, 'conduct_drill') == ['ops_service', 'quality_center']
    do(case, 'conduct_drill', 'opsmgr1')
    do(case, 'review_drill', 'emg1', drill_plan_update_required=True)
    assert groups_of(case, 'update_emergency_plan') == ['quality_center']
    do(case, 'update_emergency_plan', 'qa1', updated_plan_version='EP-SEC v2')
    assert case.end_events == ['drill_closed_plan_updated']
    assert case.data['updated_plan_version'] == 'EP-SEC v2' and case.data['drill_scenario'] == 'EP-SEC'


def test_drill_without_plan_changes(driver):
    case = driver.start('emergency_drill', {}, user='scheduler')
    case.fire_timer('drill_due')
    do(case, 'plan_drill', 'emg1')
    do(case, 'approve_drill_plan', 'deputy1', drill_plan_decision='approve')
    do(case, 'conduct_drill', 'qa1')
    do(case, 'review_drill', 'emg1', drill_plan_update_required=False)
    assert case.end_events == ['drill_closed']
