"""Software release: 000 §2.6 10)–13), 004 §四(二)3–4, §三(四) — submitter ≠ verifier ≠ authoriser."""

import pytest

from tests.processes.conftest import do, groups_of, open_ids
from tests.processes.driver import SeparationOfDutiesViolation

SUM1, SUM2 = 'a' * 64, 'b' * 64
START = dict(
    software_name='运维监控平台',
    version='2.4.0',
    package_checksum=SUM1,
    test_report_ref='TR-2026-118',
    test_summary='功能、性能、安全测试通过',
    release_notes='新增告警聚合',
    supersedes_previous=True,
    supersedes_version='2.3.5',
)


def start(driver, **overrides):
    return driver.start('software_release', {**START, **overrides}, user='dev1')


def verify_and_authorize(case, checksum=SUM1, verifier='opsmgr1', authoriser='qa1'):
    assert groups_of(case, 'verify_package') == ['ops_service']
    do(
        case,
        'verify_package',
        verifier,
        ops_verification='passed',
        checksum_verified=True,
        package_complete=True,
    )
    assert groups_of(case, 'authorize_release') == ['quality_center']
    do(case, 'authorize_release', authoriser, quality_decision='authorized', authorized_checksum=checksum)


def deploy_to_acceptance(case, accepted=True):
    assert groups_of(case, 'register_dsl') == ['ops_service']
    do(case, 'register_dsl', 'opsmgr1', dsl_entry_id='DSL-0007')
    do(case, 'schedule_release', 'opsmgr1')
    assert groups_of(case, 'pre_release_check') == ['second_line']
    do(case, 'pre_release_check', 'l2eng1', pre_check_passed=True)
    do(case, 'deploy_release', 'l2eng1')
    do(case, 'monitor_release', 'l2eng1', monitoring_hours=24, incidents_observed=0)
    assert groups_of(case, 'business_acceptance') == ['marketing_center']
    do(case, 'business_acceptance', 'sales1', acceptance_passed=accepted)


def test_tested_package_is_verified_authorised_registered_deployed_accepted_and_old_version_retired(driver):
    case = start(driver)
    assert case.data['release_submitter'] == 'dev1'
    with pytest.raises(SeparationOfDutiesViolation):  # submitter may not verify
        do(case, 'verify_package', 'dev1', ops_verification='passed')
    do(
        case,
        'verify_package',
        'opsmgr1',
        ops_verification='passed',
        checksum_verified=True,
        package_complete=True,
    )
    for who in ('dev1', 'opsmgr1'):  # nor may submitter or verifier authorise
        with pytest.raises(SeparationOfDutiesViolation):
            do(case, 'authorize_release', who, quality_decision='authorized', authorized_checksum=SUM1)
    do(case, 'authorize_release', 'qa1', quality_decision='authorized', authorized_checksum=SUM1)
    deploy_to_acceptance(case)
    assert groups_of(case, 'retire_old_version') == ['ops_service']
    do(case, 'retire_old_version', 'opsmgr1', retired_version='2.3.5')
    assert case.is_completed and case.end_events == ['release_completed']
    assert {case.completed_by(s) for s in ('verify_package', 'authorize_release')} == {'opsmgr1', 'qa1'}
    assert case.data['retired_version'] == '2.3.5' and case.data['dsl_entry_id'] == 'DSL-0007'


@pytest.mark.through_api
def test_release_without_superseded_version_skips_retirement(driver):
    case = start(driver, supersedes_previous=False)
    verify_and_authorize(case)
    deploy_to_acceptance(case)
    assert case.is_completed and case.end_events == ['release_completed']
    assert case.completed_by('retire_old_version') is None


def test_only_the_authorised_package_can_be_scheduled(driver):
    case = start(driver)
    verify_and_authorize(case, checksum=SUM2)  # authorised checksum differs from the package
    assert open_ids(case) == ['rework_release']
    assert groups_of(case, 'rework_release') == ['rd_center']
    assert case.completed_by('schedule_release') is None


def test_rejected_verification_goes_back_to_rd_and_a_resubmitter_may_not_verify(driver):
    case = start(driver)
    do(case, 'verify_package', 'opsmgr1', ops_verification='rejected')
    do(case, 'rework_release', 'dev2', rd_action='resubmit', version='2.4.1', package_checksum=SUM2)
    with pytest.raises(SeparationOfDutiesViolation):
        do(case, 'verify_package', 'dev2', ops_verification='passed')
    verify_and_authorize(case, checksum=SUM2)
    deploy_to_acceptance(case)
    do(case, 'retire_old_version', 'opsmgr1')
    assert case.end_events == ['release_completed'] and case.data['version'] == '2.4.1'


def test_incomplete_package_is_not_passed_on(driver):
    case = start(driver)
    do(
        case,
        'verify_package',
        'opsmgr1',
        ops_verification='passed',
        checksum_verified=True,
        package_complete=False,
    )
    assert open_ids(case) == ['rework_release']


def test_quality_refusal_goes_back_to_rd(driver):
    case = start(driver)
    do(
        case,
        'verify_package',
        'opsmgr1',
        ops_verification='passed',
        checksum_verified=True,
        package_complete=True,
    )
    do(case, 'authorize_release', 'qa1', quality_decision='rejected', authorized_checksum=SUM1)
    assert open_ids(case) == ['rework_release']


def test_failed_pre_release_check_reschedules(driver):
    case = start(driver)
    verify_and_authorize(case)
    do(case, 'register_dsl', 'opsmgr1')
    do(case, 'schedule_release', 'opsmgr1')
    do(case, 'pre_release_check', 'l2eng1', pre_check_passed=False)
    assert open_ids(case) == ['schedule_release']


def test_failed_acceptance_goes_back_to_rd_who_withdraw(driver):
    case = start(driver)
    verify_and_authorize(case)
    deploy_to_acceptance(case, accepted=False)
    assert open_ids(case) == ['rework_release']
    do(case, 'rework_release', 'dev1', rd_action='withdraw')
    assert case.is_completed and case.end_events == ['release_withdrawn']
