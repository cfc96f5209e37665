"""Change management: 003 §三(四), 001 篇12 — every end event, the unit head's sign-off and the
requester/approver separation."""

import pytest

from tests.processes.conftest import do, groups_of, open_ids
from tests.processes.driver import NotAssignee, SeparationOfDutiesViolation

START = dict(
    change_title='核心交换机固件升级',
    change_type='normal',
    change_reason='修复已知漏洞',
    change_content='升级固件至 9.3.10',
    impact_scope='机房A全部业务网络',
    affected_systems='核心交换机',
    involves_confidential_data=False,
)


# Who signs for whom in the org chart (001 篇12 §六(五)): alice, in no unit, is signed for by the head of the
# company; an engineer by the manager of the department above their team; a manager by their own superior.
HEAD_OF = {'alice': 'gm1', 'l2eng1': 'opsmgr1', 'opsmgr1': 'gm1', 'deputy1': 'gm1', 'l1eng1': 'opsmgr1'}


def start(driver, user='alice', signed=True, **overrides):
    """A change requested by `user`; unless `signed=False`, signed off by their unit head (not emergencies)."""
    case = driver.start('change_request', {**START, **overrides}, user=user)
    if signed and overrides.get('change_type') != 'emergency':
        sign_off(case, user)
    return case


def sign_off(case, requester, decision='approve', **fields):
    task = case.task('unit_head_signoff')
    assert (task.candidate_users, task.candidate_groups) == ([HEAD_OF[requester]], [])
    do(case, 'unit_head_signoff', HEAD_OF[requester], unit_head_decision=decision, **fields)


def assess(case, feasible=True, risk='low', cls='normal', by='l2eng1'):
    assert groups_of(case, 'assess_change') == ['second_line']
    do(
        case,
        'assess_change',
        by,
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
    task = case.task('manager_approval')  # the operations service department's manager, by name
    assert (task.candidate_users, task.candidate_groups) == (['opsmgr1'], [])
    with pytest.raises((NotAssignee, SeparationOfDutiesViolation)):
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
    assess(case, risk='high', by='l2eng2')
    do(case, 'prepare_change_plan', 'l2eng1')
    do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
    assert case.task('deputy_gm_approval').candidate_users == ['deputy1']
    with pytest.raises((NotAssignee, SeparationOfDutiesViolation)):  # not offered to them, and their own
        do(case, 'deputy_gm_approval', 'l2eng1', deputy_decision='approve')
    do(case, 'deputy_gm_approval', 'deputy1', deputy_decision='approve')
    implement_and_verify(case, requester='l2eng1')
    assert case.end_events == ['change_completed']
    assert case.completed_by('deputy_gm_approval') == 'deputy1'


def test_an_engineer_cannot_assess_their_own_change(driver):
    """The assessment classes the change, and a standard one needs no approval: the requester may not class
    their own (003 §三(四)2–3, 004 §六(二)1)."""
    case = start(driver, user='l2eng1')
    with pytest.raises(SeparationOfDutiesViolation):
        assess(case, cls='standard')
    assess(case, cls='standard', by='l2eng2')
    assert open_ids(case) == ['implement_change']


def test_requester_who_is_a_manager_cannot_approve_their_own_change(driver):
    """The operations manager's own change is approved by their superior (it used to wait for a second
    operations manager the company does not have)."""
    case = start(driver, user='opsmgr1')
    assess(case, risk='high')
    do(case, 'prepare_change_plan', 'l2eng1')
    assert case.task('manager_approval').candidate_users == ['gm1']
    with pytest.raises((NotAssignee, SeparationOfDutiesViolation)):
        do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
    do(case, 'manager_approval', 'gm1', manager_decision='approve')
    with pytest.raises((NotAssignee, SeparationOfDutiesViolation)):  # not offered to them, and their own
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
        involves_confidential_data=False,
    )
    sign_off(case, 'alice')  # a reworked request is signed again (§六(六)) and assessed again
    assess(case)
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


def test_emergency_change_skips_sign_off_and_assessment_and_is_reviewed_afterwards(driver):
    case = start(driver, change_type='emergency', user='l2eng1')
    assert open_ids(case) == ['emergency_authorization']  # the deputy GM's authorisation, within the hour
    assert case.task('emergency_authorization').candidate_users == ['deputy1']
    do(case, 'emergency_authorization', 'deputy1', emergency_decision='authorize')
    implement_and_verify(case, requester='l2eng1')
    assert groups_of(case, 'review_change') == ['quality_center']
    do(case, 'review_change', 'qa1')
    assert case.is_completed and case.end_events == ['emergency_change_closed']
    assert case.completed_by('assess_change') is None and case.completed_by('unit_head_signoff') is None


def test_emergency_change_requested_by_the_deputy_gm_needs_another_authoriser(driver):
    """The deputy GM's own emergency is authorised by their superior (it used to wait for a second deputy)."""
    case = start(driver, change_type='emergency', user='deputy1')
    assert case.task('emergency_authorization').candidate_users == ['gm1']
    with pytest.raises((NotAssignee, SeparationOfDutiesViolation)):
        do(case, 'emergency_authorization', 'deputy1', emergency_decision='authorize')
    do(case, 'emergency_authorization', 'gm1', emergency_decision='authorize')
    assert open_ids(case) == ['implement_change']


def test_the_deputy_gms_own_high_risk_change_is_approved_by_their_superior(driver):
    case = start(driver, user='deputy1')
    assess(case, risk='high')
    do(case, 'prepare_change_plan', 'l2eng1')
    do(case, 'manager_approval', 'opsmgr1', manager_decision='approve')
    assert case.task('deputy_gm_approval').candidate_users == ['gm1']
    do(case, 'deputy_gm_approval', 'gm1', deputy_decision='approve')
    assert open_ids(case) == ['implement_change']


def test_refused_emergency_change_goes_back_to_the_requester(driver):
    case = start(driver, change_type='emergency')
    do(case, 'emergency_authorization', 'deputy1', emergency_decision='refuse')
    do(case, 'rework_change', 'alice', rework_decision='resubmit', change_type='normal',
       involves_confidential_data=False)
    assert open_ids(case) == ['unit_head_signoff']  # no longer an emergency: the usual road, sign-off first
    sign_off(case, 'alice')
    assert open_ids(case) == ['assess_change']


def test_the_requesters_unit_head_signs_before_operations_assess(driver):
    case = start(driver, user='l1eng1', signed=False)
    assert open_ids(case) == ['unit_head_signoff']
    assert case.data['requester_unit_heads'] == ['opsmgr1']  # first line has no manager: its department's
    with pytest.raises(NotAssignee):
        do(case, 'unit_head_signoff', 'l2eng1', unit_head_decision='approve')
    with pytest.raises((NotAssignee, SeparationOfDutiesViolation)):  # nor the requester their own request
        do(case, 'unit_head_signoff', 'l1eng1', unit_head_decision='approve')
    sign_off(case, 'l1eng1', unit_head_urgent=False, unit_head_comment='同意，按计划窗口实施')
    assert open_ids(case) == ['assess_change']
    assert case.task('assess_change').priority == 50
    assert case.completed_by('unit_head_signoff') == 'opsmgr1'


def test_an_urgent_request_marked_by_the_unit_head_is_assessed_first(driver):
    case = start(driver, user='l1eng1', signed=False)
    sign_off(case, 'l1eng1', unit_head_urgent=True)
    assert case.task('assess_change').priority == 80  # §六(七) 急件由单位主管注明，优先处理


def test_a_returned_request_is_reworked_and_signed_again(driver):
    case = start(driver, user='l1eng1', signed=False)
    sign_off(case, 'l1eng1', decision='return', unit_head_comment='请写明影响的业务时段')
    assert open_ids(case) == ['rework_change']
    assert case.task('rework_change').assignee == 'l1eng1'
    assert case.data['unit_head_comment'] == '请写明影响的业务时段'
    do(case, 'rework_change', 'l1eng1', rework_decision='resubmit', change_type='normal',
       impact_scope='机房A业务网络，周六 02:00–02:10 中断', involves_confidential_data=False)
    assert open_ids(case) == ['unit_head_signoff']  # §六(六): changed after signing, so signed again
    sign_off(case, 'l1eng1', unit_head_urgent=False)
    assess(case)
    assert open_ids(case) == ['prepare_change_plan']


@pytest.mark.parametrize('requester, heads', [
    ('opsmgr1', ['gm1']),  # a department manager: the head of the company above them
    ('deputy1', ['gm1']),
    ('emg1', ['deputy1', 'gm1']),  # two units: the emergency group's leader, and above quality (no manager)
])
def test_a_managers_request_is_signed_by_their_superiors(driver, requester, heads):
    case = start(driver, user=requester, signed=False)
    task = case.task('unit_head_signoff')
    assert (task.candidate_users, task.candidate_groups) == (heads, [])
    do(case, 'unit_head_signoff', heads[-1], unit_head_decision='approve')
    assert open_ids(case) == ['assess_change']


def test_the_general_managers_own_request_needs_no_sign_off(driver):
    case = start(driver, user='gm1', signed=False)
    assert case.data['requester_unit_heads'] == []
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


def test_a_request_involving_confidential_data_needs_the_general_manager(driver):
    """001 篇12 §六(八): a request whose data touches company secrets is worked on only with the top's approval
    (the chairman in the seed; the general manager heads this company's chart)."""
    case = start(driver, user='l1eng1', involves_confidential_data=True)
    assert open_ids(case) == ['confidential_approval']
    assert groups_of(case, 'confidential_approval') == ['general_manager']
    do(case, 'confidential_approval', 'gm1', confidential_decision='approve', confidential_comment='仅限机房内操作')
    assess(case)
    assert case.completed_by('confidential_approval') == 'gm1'


def test_a_confidential_request_the_general_manager_rejects_goes_back_to_the_requester(driver):
    case = start(driver, user='l1eng1', involves_confidential_data=True)
    do(case, 'confidential_approval', 'gm1', confidential_decision='reject', confidential_comment='请去除客户资料')
    assert open_ids(case) == ['rework_change'] and case.data['confidential_comment'] == '请去除客户资料'
    do(case, 'rework_change', 'l1eng1', rework_decision='resubmit', change_type='normal',
       involves_confidential_data=False)
    sign_off(case, 'l1eng1')
    # unticking the box does not undo the rejection: once declared confidential, the general manager decides
    assert open_ids(case) == ['confidential_approval'] and case.data['confidential_flagged'] is True
    do(case, 'confidential_approval', 'gm1', confidential_decision='approve', confidential_comment='已去除客户资料')
    assert open_ids(case) == ['assess_change']


def test_a_request_declared_confidential_only_in_a_rework_needs_the_general_manager_from_then_on(driver):
    case = start(driver, user='l1eng1')
    assert open_ids(case) == ['assess_change'] and case.data['confidential_flagged'] is False
    do(case, 'assess_change', 'l2eng1', technically_feasible=False, risk_level='low', assessed_change_class='normal')
    do(case, 'rework_change', 'l1eng1', rework_decision='resubmit', change_type='normal',
       involves_confidential_data=True)
    sign_off(case, 'l1eng1')
    assert open_ids(case) == ['confidential_approval']


def test_an_emergency_change_involving_confidential_data_needs_the_general_manager_before_authorisation(driver):
    """001 篇12 §六(八) knows no exception for urgent requests: the general manager approves before the deputy
    GM authorises the work (and a rejection cannot be dodged by resubmitting as an emergency)."""
    case = start(driver, user='l1eng1', involves_confidential_data=True)
    do(case, 'confidential_approval', 'gm1', confidential_decision='reject', confidential_comment='不可涉及客户资料')
    do(case, 'rework_change', 'l1eng1', rework_decision='resubmit', change_type='emergency',
       involves_confidential_data=False)
    assert open_ids(case) == ['confidential_approval']  # not emergency_authorization
    do(case, 'confidential_approval', 'gm1', confidential_decision='approve', confidential_comment='限机房内操作')
    assert open_ids(case) == ['emergency_authorization']
    do(case, 'emergency_authorization', 'deputy1', emergency_decision='authorize')
    assert open_ids(case) == ['implement_change']


def test_the_general_managers_own_confidential_emergency_needs_no_approval_by_themselves(driver):
    case = start(driver, user='gm1', change_type='emergency', involves_confidential_data=True)
    assert open_ids(case) == ['emergency_authorization']


def test_the_requester_cannot_approve_their_own_confidential_request(driver):
    case = start(driver, user='alice', involves_confidential_data=True)
    with pytest.raises(SeparationOfDutiesViolation):
        do(case, 'confidential_approval', 'alice', confidential_decision='approve')


@pytest.mark.parametrize('requester, head', [
    ('hr1', 'admin_mgmt1'), ('finance1', 'admin_mgmt1'),  # HR and finance sit under general management
    ('desk1', 'opsmgr1'), ('vendor1', 'opsmgr1'), ('sales1', 'gm1'), ('qa1', 'gm1'),
])
def test_each_unit_is_signed_for_by_the_manager_above_it(driver, requester, head):
    case = start(driver, user=requester, signed=False)
    assert case.task('unit_head_signoff').candidate_users == [head]
