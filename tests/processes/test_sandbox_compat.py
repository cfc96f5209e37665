"""The same scenarios under the engine's RestrictedPython sandbox (skipped until engine.sandbox exists)."""

import pytest

from tests.processes import test_change_request, test_procurement_request, test_service_request
from tests.processes.conftest import FORMS, PROCESSES
from tests.processes.driver import InMemoryDriver

sandbox = pytest.importorskip('engine.sandbox')


class SandboxedDriver(InMemoryDriver):
    def script_engine(self):
        return sandbox.SandboxedScriptEngine(helpers=self.org_helpers)


@pytest.fixture(scope='module')
def sandboxed():
    return SandboxedDriver(PROCESSES, FORMS)


def test_service_request_urgent_path_under_the_sandbox(sandboxed):
    case = test_service_request.start(sandboxed, service_level='silver')
    assert type(case.workflow.script_engine).__name__ == 'SandboxedScriptEngine'
    test_service_request.test_urgent_fault_runs_the_emergency_procedure_beside_fault_handling(sandboxed)
    test_service_request.test_sla_warning_timer_lets_the_desk_chase_the_handler_without_interrupting(
        sandboxed
    )


def test_change_request_under_the_sandbox(sandboxed):
    test_change_request.test_high_risk_change_also_needs_the_deputy_gm(sandboxed)
    test_change_request.test_failed_change_is_rolled_back_and_reviewed(sandboxed)


@pytest.mark.parametrize(
    'amount,remaining,level,quotes',
    [
        (4999.99, 1000.0, 'general_manager', 1),
        (5000.0, 5000.0, 'dept_manager', 3),
        (20000.0, 1e6, 'deputy_gm', 3),
    ],
)
def test_procurement_dmn_under_the_sandbox(sandboxed, amount, remaining, level, quotes):
    from tests.processes import test_dmn

    test_dmn.test_procurement_approval(sandboxed, amount, remaining, level, quotes)
    test_procurement_request.test_failed_inspection_can_cancel_the_order(sandboxed)
