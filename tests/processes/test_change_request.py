"""Change management: 003 §三(四), 001 篇12 — every end event and the requester/approver separation."""

import pytest

from tests.processes.conftest import do, groups_of, open_ids
from tests.processes.driver import SeparationOfDutiesViolation

START = dict(
    change_title='核心交换机固件升级',
    change_type='normal',
    change_reason='修复已知漏洞',
    change_content='升级固件至 9.3.10',
    impact_scope='机房A全部业务网络',
    affected_systems='核心交换机',
)


def start(driver, user='alice', **overrides):
    return driver.start('change_request', {**START, **overrides}, user=user)


def assess(case, feasible=True, risk='low', cls='normal'):
    assert groups_of(case, 'assess_change') == ['second_line']
    do(
        case,
        'assess_change',
        'l2eng1',
        technically_feasible=feasible,
        risk_level=risk,
        assessed_change_class=cls,
    )


def implement_and_verify(case, success=True, requester='alice'):
    assert groups_of(case, 'implement_change') == ['second_line']
    do(case, 'implement_change', 'l2eng1')
    task = next(t for t in case.open_tasks() if t.element_id == 'verify_change')
    assert task.assignee == requester and task.candidate_groups == []
    do(case, 'verify_change', requester, change_successful=success)


def test_normal_low_risk_change_is_planned_approved_implemented_and_verified(driver):
    case = start(driver)
    assert case.data['change_requester'] == 'alice'
    assess(case)
    assert groups_of(case, 'prepare_change_plan') == ['second_line']
    do(
        case,
        'prepare_change_plan',
        'l2eng1',
        implementation_plan='1. 备份配置 2. 升级',
        rollback_plan='回退至 9.3.8 固件',
    )
    assert groups_of(case, 'manager_approval') == ['ops_service']
    with pytest.raises(SeparationOfDutiesViolation):
        do(case, 'manager_approval', 'alice', manager_decision='approve')
    do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
    implement_and_verify(case)
    assert case.is_completed and case.end_events == ['change_completed']
    assert case.data['rollback_plan'] == '回退至 9.3.8 固件'
    assert case.completed_by('manager_approval') == 'opsmgr1'
    assert case.completed_by('deputy_gm_approval') is None


def test_a_normal_change_cannot_reach_approval_without_both_plans(driver):
    from tests.processes.driver import FormValidationError

    case = start(driver)
    assess(case)
    with pytest.raises(FormValidationError):
        case.complete(
            'prepare_change_plan',
            {
                'implementation_plan': '升级固件，检查端口状态',
                'planned_start': '2026-12-01T22:00:00+08:00',
                'planned_end': '2026-12-01T23:00:00+08:00',
                'downtime_required': True,
            },
            user='l2eng1',
        )
    assert open_ids(case) == ['prepare_change_plan']


def test_high_risk_change_also_needs_the_deputy_gm(driver):
    case = start(driver, user='l2eng1')  # an engineer may request a change, but not assess-and-approve it
    assess(case, risk='high')
    do(case, 'prepare_change_plan', 'l2eng1')
    do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
    assert groups_of(case, 'deputy_gm_approval') == ['deputy_gm']
    with pytest.raises(SeparationOfDutiesViolation):
        do(case, 'deputy_gm_approval', 'l2eng1', deputy_decision='approve')
    do(case, 'deputy_gm_approval', 'deputy1', deputy_decision='approve')
    implement_and_verify(case, requester='l2eng1')
    assert case.end_events == ['change_completed']
    assert case.completed_by('deputy_gm_approval') == 'deputy1'


def test_requester_who_is_a_manager_cannot_approve_their_own_change(driver):
    case = start(driver, user='opsmgr1')
    assess(case, risk='high')
    do(case, 'prepare_change_plan', 'l2eng1')
    with pytest.raises(SeparationOfDutiesViolation):
        do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
    do(case, 'manager_approval', 'opsmgr2', manager_decision='approve')
    with pytest.raises(SeparationOfDutiesViolation):
        do(case, 'deputy_gm_approval', 'opsmgr1', deputy_decision='approve')


def test_rejected_change_goes_back_to_the_requester_who_resubmits(driver):
    case = start(driver)
    assess(case)
    do(case, 'prepare_change_plan', 'l2eng1')
    do(case, 'manager_approval', 'opsmgr1', manager_decision='reject', manager_comment='请补充业务影响')
    task = next(t for t in case.open_tasks() if t.element_id == 'rework_change')
    assert task.assignee == 'alice'
    do(
        case,
        'rework_change',
        'alice',
        rework_decision='resubmit',
        change_type='normal',
        impact_scope='机房A业务网络，凌晨窗口中断10分钟',
    )
    assess(case)  # a resubmitted change is assessed again
    do(case, 'prepare_change_plan', 'l2eng1')
    do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
    implement_and_verify(case)
    assert case.end_events == ['change_completed']
    assert case.data['impact_scope'].endswith('10分钟')


@pytest.mark.parametrize('path', ['not_feasible', 'manager', 'deputy'])
def test_rejected_change_can_be_withdrawn(driver, path):
    case = start(driver)
    if path == 'not_feasible':
        assess(case, feasible=False)
    else:
        assess(case, risk='high')
        do(case, 'prepare_change_plan', 'l2eng1')
        if path == 'manager':
            do(case, 'manager_approval', 'opsmgr1', manager_decision='reject')
        else:
            do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
            do(case, 'deputy_gm_approval', 'deputy1', deputy_decision='reject')
    assert open_ids(case) == ['rework_change']
    do(case, 'rework_change', 'alice', rework_decision='withdraw')
    assert case.is_completed and case.end_events == ['change_withdrawn']


def test_standard_change_skips_plan_and_approval(driver):
    case = start(driver, change_type='standard')
    assess(case, cls='standard')
    assert open_ids(case) == ['implement_change']
    implement_and_verify(case)
    assert case.end_events == ['change_completed']
    for step in ('prepare_change_plan', 'manager_approval', 'deputy_gm_approval'):
        assert case.completed_by(step) is None


def test_change_claimed_as_standard_but_not_in_the_catalogue_needs_approval(driver):
    case = start(driver, change_type='standard')
    assess(case, cls='normal')
    assert open_ids(case) == ['prepare_change_plan']


def test_emergency_change_skips_assessment_and_is_reviewed_afterwards(driver):
    case = start(driver, change_type='emergency', user='l2eng1')
    assert open_ids(case) == ['emergency_authorization']
    assert groups_of(case, 'emergency_authorization') == ['deputy_gm']
    do(case, 'emergency_authorization', 'deputy1', emergency_decision='authorize')
    implement_and_verify(case, requester='l2eng1')
    assert groups_of(case, 'review_change') == ['quality_center']
    do(case, 'review_change', 'qa1')
    assert case.is_completed and case.end_events == ['emergency_change_closed']
    assert case.completed_by('assess_change') is None


def test_emergency_change_requested_by_the_deputy_gm_needs_another_authoriser(driver):
    case = start(driver, change_type='emergency', user='deputy1')
    with pytest.raises(SeparationOfDutiesViolation):
        do(case, 'emergency_authorization', 'deputy1', emergency_decision='authorize')


def test_refused_emergency_change_goes_back_to_the_requester(driver):
    case = start(driver, change_type='emergency')
    do(case, 'emergency_authorization', 'deputy1', emergency_decision='refuse')
    do(case, 'rework_change', 'alice', rework_decision='resubmit', change_type='normal')
    assert open_ids(case) == ['assess_change']


@pytest.mark.through_api
def test_failed_change_is_rolled_back_and_reviewed(driver):
    case = start(driver)
    assess(case)
    do(case, 'prepare_change_plan', 'l2eng1', rollback_plan='恢复备份配置并重启')
    do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
    implement_and_verify(case, success=False)
    assert groups_of(case, 'rollback_change') == ['second_line']
    do(case, 'rollback_change', 'l2eng1', service_restored_after_rollback=True)
    do(case, 'review_change', 'qa1', improvement_actions='升级前在测试环境验证')
    assert case.is_completed and case.end_events == ['change_rolled_back']
    assert case.data['change_successful'] is False
