import json
import os

import pytest

from tests.processes.driver import InMemoryDriver

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROCESSES = os.path.join(ROOT, 'processes')
FORMS = os.path.join(ROOT, 'forms')


def pytest_generate_tests(metafunc):
    """Every scenario runs on plain SpiffWorkflow and through the engine's services.

    Scenarios that fire timers (`@pytest.mark.memory_only`) need the background worker of the timers
    issue and run on the in-memory driver only until then.
    """
    if 'driver' in metafunc.fixturenames:
        kinds = ['memory'] if metafunc.definition.get_closest_marker('memory_only') else ['memory', 'engine']
        if metafunc.definition.get_closest_marker('through_api'):
            kinds.append('api')
        metafunc.parametrize('driver', kinds, indirect=True)


@pytest.fixture(scope='session')
def memory_driver():
    return InMemoryDriver(PROCESSES, FORMS)


@pytest.fixture(scope='session')
def engine_driver(tmp_path_factory):
    from pathlib import Path

    from tests.processes.engine_driver import EngineDriver

    db = tmp_path_factory.mktemp('engine-driver') / 'opsflow.db'
    driver = EngineDriver(Path(PROCESSES), Path(FORMS), f'sqlite:///{db}')
    yield driver
    driver.close()


@pytest.fixture(scope='session')
def api_driver(tmp_path_factory):
    """The scenarios marked `through_api` also run over HTTP, signed in as the org chart's demo users."""
    from pathlib import Path

    from tests.processes.api_driver import ApiDriver

    db = tmp_path_factory.mktemp('api-driver') / 'opsflow.db'
    return ApiDriver(Path(PROCESSES), Path(FORMS), f'sqlite:///{db}')


@pytest.fixture
def driver(request):
    return request.getfixturevalue(f'{request.param}_driver')


def load_form(key):
    with open(os.path.join(FORMS, key + '.json'), encoding='utf-8') as f:
        return json.load(f)


def sample_value(name, schema):
    if 'enum' in schema:
        return schema['enum'][0]
    t = schema['type']
    if t == 'boolean':
        return True
    if t == 'integer':
        return max(schema.get('minimum', 1), 1) if schema.get('maximum', 5) >= 1 else schema.get('minimum', 0)
    if t == 'number':
        return 100.0
    fmt = schema.get('format')
    if fmt == 'date':
        return '2026-12-01'
    if fmt == 'date-time':
        return '2026-12-01T09:00:00+08:00'
    if schema.get('pattern') == '^[0-9a-f]{64}$':
        return 'a' * 64
    if 'pattern' in schema:
        return '1.0.0'
    return f'{name} text'


def form_data(form_key, **overrides):
    """Valid data for every field of the form (required and optional), with overrides."""
    schema = load_form(form_key)['schema']
    data = {n: sample_value(n, s) for n, s in schema['properties'].items()}
    data.update(overrides)
    return data


def do(case, element_id, user, **fields):
    """Complete the open task `element_id` as `user` with valid form data; return the task as it was."""
    tasks = [t for t in case.open_tasks() if t.element_id == element_id]
    assert tasks, f'{element_id} not open; open tasks: {open_ids(case)}'
    task = tasks[0]
    case.complete(
        element_id, form_data(task.form_key, **fields) if task.form_key else dict(fields), user=user
    )
    return task


def open_ids(case):
    return sorted(t.element_id for t in case.open_tasks())


def groups_of(case, element_id):
    return next(t.candidate_groups for t in case.open_tasks() if t.element_id == element_id)
