"""Static checks of processes/, forms/ and the org chart."""

import ast
import builtins
import glob
import json
import os

import jsonschema
import pytest
from lxml import etree
from RestrictedPython import compile_restricted
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser

from engine.forms import VARIABLES_FILE
from tests.processes.conftest import FORMS, PROCESSES
from tests.processes.driver import HELPERS, strip_expression

NS = {
    'bpmn': 'http://www.omg.org/spec/BPMN/20100524/MODEL',
    'bpmndi': 'http://www.omg.org/spec/BPMN/20100524/DI',
    'camunda': 'http://camunda.org/schema/1.0/bpmn',
    'dmn': 'https://www.omg.org/spec/DMN/20191111/MODEL/',
}
C = '{http://camunda.org/schema/1.0/bpmn}'
KEYS = [
    'service_request',
    'change_request',
    'software_release',
    'procurement_request',
    'emergency_response',
    'emergency_drill',
]
FORBIDDEN = ['complexGateway', 'adHocSubProcess', 'compensateEventDefinition', 'linkEventDefinition']


def bpmn(key):
    return etree.parse(os.path.join(PROCESSES, key + '.bpmn'))


def all_forms():
    out = {}
    for path in sorted(glob.glob(os.path.join(FORMS, '*.json'))):
        if os.path.basename(path) == VARIABLES_FILE:  # labels of script and DMN variables, not a form
            continue
        with open(path, encoding='utf-8') as f:
            out[os.path.basename(path)[:-5]] = json.load(f)
    return out


def org_chart():
    with open(os.path.join(PROCESSES, 'org_chart.json'), encoding='utf-8') as f:
        return json.load(f)


def dmn_outputs(decision_id):
    t = etree.parse(os.path.join(PROCESSES, decision_id + '.dmn'))
    return [o.get('name') for o in t.iterfind('.//dmn:output', NS)]


def dmn_inputs(decision_id):
    t = etree.parse(os.path.join(PROCESSES, decision_id + '.dmn'))
    return [i.text for i in t.iterfind('.//dmn:inputExpression/dmn:text', NS)]


def names_read(expr, mode='eval'):
    tree = ast.parse(expr, mode=mode)
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def names_assigned(script):
    tree = ast.parse(script, mode='exec')
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def provided_variables(key, seen=None):
    """Every variable a form, DMN output, script or initiator of this process (and called processes) sets."""
    seen = seen or set()
    seen.add(key)
    t = bpmn(key)
    forms = all_forms()
    provided = set()
    for el in t.iter():
        if not isinstance(el.tag, str):
            continue
        fk = el.get(C + 'formKey')
        if fk:
            provided |= set(forms[fk]['schema']['properties'])
        if el.get(C + 'initiator'):
            provided.add(el.get(C + 'initiator'))
        if el.get(C + 'decisionRef'):
            provided |= set(dmn_outputs(el.get(C + 'decisionRef')))
    for s in t.iterfind('.//bpmn:scriptTask/bpmn:script', NS):
        provided |= names_assigned(s.text)
    for ca in t.iterfind('.//bpmn:callActivity', NS):
        called = ca.get('calledElement')
        if called not in seen:
            provided |= provided_variables(called, seen)
    return provided


SANDBOX_NAMES = set(HELPERS) | {'unit_heads', 'group_heads'} | set(dir(builtins))  # the engine's org lookups


def test_every_process_parses_and_validates_against_the_bpmn_and_dmn_schemas():
    parser = CamundaParser(validator=BpmnValidator())
    parser.add_bpmn_files(sorted(glob.glob(os.path.join(PROCESSES, '*.bpmn'))))
    parser.add_dmn_files(sorted(glob.glob(os.path.join(PROCESSES, '*.dmn'))))
    for key in KEYS:
        assert parser.get_spec(key) is not None
        parser.get_subprocess_specs(key)


@pytest.mark.parametrize('key', KEYS)
def test_one_executable_process_per_file_named_after_the_key(key):
    t = bpmn(key)
    procs = t.findall('bpmn:process', NS)
    assert [p.get('id') for p in procs] == [key]
    assert procs[0].get('isExecutable') == 'true'
    assert ' / ' in procs[0].get('name')  # zh / en


@pytest.mark.parametrize('key', KEYS)
def test_no_constructs_the_engine_refuses(key):
    t = bpmn(key)
    for tag in FORBIDDEN:
        assert t.find(f'.//bpmn:{tag}', NS) is None, tag
    for _gw in t.iterfind('.//bpmn:eventBasedGateway', NS):
        pytest.fail('event-based gateway not used in these diagrams')


@pytest.mark.parametrize('key', KEYS)
def test_every_flow_node_and_flow_has_diagram_interchange(key):
    t = bpmn(key)
    di = {s.get('bpmnElement') for s in t.iterfind('.//bpmndi:BPMNShape', NS)} | {
        e.get('bpmnElement') for e in t.iterfind('.//bpmndi:BPMNEdge', NS)
    }
    proc = t.find('bpmn:process', NS)
    for el in proc.iter():
        if not isinstance(el.tag, str):
            continue
        local = etree.QName(el).localname
        if local in (
            'process',
            'laneSet',
            'documentation',
            'incoming',
            'outgoing',
            'flowNodeRef',
            'script',
            'conditionExpression',
            'extensionElements',
            'timerEventDefinition',
            'escalationEventDefinition',
            'timeDuration',
            'timeCycle',
            'dataObject',  # drawn through its references
            'property',  # a data input's target on its task
            'sourceRef',
            'targetRef',
        ) or el.tag.startswith(C):
            continue
        assert el.get('id') in di, f'{key}: {local} {el.get("id")} has no BPMNDI shape/edge'
    for edge in t.iterfind('.//bpmndi:BPMNEdge', NS):
        assert len(edge.findall('{http://www.omg.org/spec/DD/20100524/DI}waypoint')) >= 2


@pytest.mark.parametrize('key', KEYS)
def test_lanes_are_org_chart_groups_and_user_tasks_are_assigned(key):
    groups = {g['key'] for g in org_chart()['groups']}
    t = bpmn(key)
    lanes = t.findall('.//bpmn:lane', NS)
    assert lanes, 'every diagram uses lanes'
    for lane in lanes:
        assert ' / ' in lane.get('name')
        if lane.get('id') not in groups:
            # a person's lane (the requester, their unit head): its user tasks go to people named by expression
            refs = {r.text for r in lane.findall('bpmn:flowNodeRef', NS)}
            for ut in t.iterfind('.//bpmn:userTask', NS):
                if ut.get('id') in refs:
                    by_expression = ut.get(C + 'assignee') or ut.get(C + 'candidateUsers') or ''
                    assert by_expression.startswith('${') and not ut.get(C + 'candidateGroups'), ut.get('id')
    for ut in t.iterfind('.//bpmn:userTask', NS):
        assert ut.get(C + 'formKey'), ut.get('id')
        assert ' / ' in ut.get('name'), ut.get('id')
        cg = ut.get(C + 'candidateGroups')
        assert cg or ut.get(C + 'assignee') or ut.get(C + 'candidateUsers'), f'{ut.get("id")} has no assignment'
        for g in (cg or '').split(','):
            if g:
                assert g.strip() in groups, f'{ut.get("id")}: unknown group {g}'


@pytest.mark.parametrize('key', KEYS)
def test_start_events_have_a_start_form_unless_timer_started(key):
    t = bpmn(key)
    for se in t.findall('bpmn:process/bpmn:startEvent', NS):
        if se.find('bpmn:timerEventDefinition', NS) is None:
            assert se.get(C + 'formKey'), f'{key}: start event without start form'


def test_every_form_key_has_a_form_and_every_form_is_used():
    forms = all_forms()
    used = set()
    for key in KEYS:
        for el in bpmn(key).iter():
            if isinstance(el.tag, str) and el.get(C + 'formKey'):
                fk = el.get(C + 'formKey')
                assert fk in forms, f'{key}: missing form {fk}'
                used.add(fk)
    assert set(forms) == used, f'unused forms: {set(forms) - used}'


def localise(node, lang):
    """What the API serves: every {"zh": ..., "en": ...} dict replaced by one language."""
    if isinstance(node, dict):
        if set(node) == {'zh', 'en'}:
            return node[lang]
        return {k: localise(v, lang) for k, v in node.items()}
    if isinstance(node, list):
        return [localise(v, lang) for v in node]
    return node


def _bilingual(d, where):
    assert isinstance(d, dict) and set(d) == {'zh', 'en'}, f'{where}: {d!r}'
    assert d['zh'].strip() and d['en'].strip(), where
    assert any('\u4e00' <= ch <= '\u9fff' for ch in d['zh']), f'{where}: zh has no Chinese'


@pytest.mark.parametrize('form_key', sorted(all_forms()))
def test_form_is_valid_json_schema_with_zh_and_en_labels(form_key):
    form = all_forms()[form_key]
    assert form['key'] == form_key
    _bilingual(form['title'], f'{form_key}.title')
    if 'description' in form:
        _bilingual(form['description'], f'{form_key}.description')
    schema = form['schema']
    for lang in ('zh', 'en'):  # the stored schema carries {zh, en} titles; the API localises them
        jsonschema.Draft202012Validator.check_schema(localise(schema, lang))
    assert schema['type'] == 'object' and schema['additionalProperties'] is False
    assert set(schema['required']) <= set(schema['properties'])
    assert schema['required'], 'at least one required field'
    for name, prop in schema['properties'].items():
        assert name.isidentifier() and not name.startswith('_') and name == name.lower()
        assert prop['type'] in ('string', 'integer', 'number', 'boolean')
        _bilingual(prop['title'], f'{form_key}.{name}.title')
        if 'description' in prop:
            _bilingual(prop['description'], f'{form_key}.{name}.description')
        if 'enum' in prop:
            assert set(prop['x-enum-labels']) == set(prop['enum'])
            for v, label in prop['x-enum-labels'].items():
                _bilingual(label, f'{form_key}.{name}.{v}')
    assert isinstance(form['show'], list)


@pytest.mark.parametrize('key', KEYS)
def test_show_fields_exist_in_the_process(key):
    provided = provided_variables(key)
    forms = all_forms()
    for el in bpmn(key).iter():
        if isinstance(el.tag, str) and el.get(C + 'formKey'):
            for name in forms[el.get(C + 'formKey')]['show']:
                assert name in provided, f'{key}: {el.get(C + "formKey")} shows unknown {name}'


@pytest.mark.parametrize('key', KEYS)
def test_conditions_timers_and_expressions_only_read_provided_variables(key):
    provided = provided_variables(key)
    t = bpmn(key)
    exprs = []
    for c in t.iterfind('.//bpmn:conditionExpression', NS):
        exprs.append(('condition', c.text))
    for tag in ('timeDuration', 'timeDate', 'timeCycle'):
        for c in t.iterfind(f'.//bpmn:{tag}', NS):
            exprs.append(('timer', c.text))
    for el in t.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in ('assignee', 'dueDate', 'priority', 'candidateUsers'):
            v = el.get(C + attr)
            if v and v.strip().startswith('${'):
                exprs.append((attr, strip_expression(v)))
        if el.get(C + 'decisionRef'):
            for text in dmn_inputs(el.get(C + 'decisionRef')):
                exprs.append(('dmn input', text))
    assert exprs
    for kind, text in exprs:
        compile_restricted(text, '<expr>', 'eval')  # raises SyntaxError if the sandbox refuses it
        unknown = names_read(text) - provided - SANDBOX_NAMES
        assert not unknown, f'{key}: {kind} {text!r} reads {unknown}'


@pytest.mark.parametrize('key', KEYS)
def test_scripts_compile_in_the_restricted_sandbox(key):
    provided = provided_variables(key)
    for s in bpmn(key).iterfind('.//bpmn:scriptTask/bpmn:script', NS):
        compile_restricted(s.text, '<script>', 'exec')
        unknown = names_read(s.text, 'exec') - provided - SANDBOX_NAMES
        assert not unknown, f'{key}: script reads {unknown}'


def test_exclusive_gateways_with_several_outgoing_flows_have_conditions_or_a_default():
    for key in KEYS:
        t = bpmn(key)
        flows = {f.get('id'): f for f in t.iterfind('.//bpmn:sequenceFlow', NS)}
        for gw in t.iterfind('.//bpmn:exclusiveGateway', NS):
            outs = [o.text for o in gw.findall('bpmn:outgoing', NS)]
            if len(outs) > 1:
                for o in outs:
                    assert o == gw.get('default') or flows[o].find('bpmn:conditionExpression', NS) is not None


def test_separation_of_duties_properties_name_existing_user_tasks():
    for key in KEYS:
        t = bpmn(key)
        ids = {u.get('id') for u in t.iterfind('.//bpmn:userTask', NS)}
        for p in t.iterfind('.//camunda:property[@name="separation_of_duties"]', NS):
            for name in p.get('value').split(','):
                assert name == 'starter' or name in ids, f'{key}: {name}'


def test_org_chart():
    chart = org_chart()
    keys = [g['key'] for g in chart['groups']]
    assert len(keys) == len(set(keys))
    required = {
        'general_manager',
        'deputy_gm',
        'general_management',
        'hr',
        'finance',
        'purchasing',
        'marketing_center',
        'ops_service',
        'service_desk',
        'spare_parts',
        'service_knowledge',
        'quality_center',
        'rd_center',
        'emergency_group',
        'first_line',
        'second_line',
        'vendor_liaison',
    }
    assert required <= set(keys)
    for g in chart['groups']:
        assert g['key'].isascii() and g['key'] == g['key'].lower() and g['key'].isidentifier()
        assert g['parent'] is None or g['parent'] in keys
        _bilingual(g['name'], g['key'])
        _bilingual(g['description'], g['key'])
        assert g['roles'] and g['source']
    by_group = {}
    for u in chart['demo_users']:
        assert u['username'].isascii()
        _bilingual(u['display_name'], u['username'])
        for gk in u['groups']:
            assert gk in keys
            by_group.setdefault(gk, []).append(u['username'])
    assert set(by_group) == set(keys), 'one demo user per group'
    roles = {r for u in chart['demo_users'] for r in u['roles']}
    assert {'process_owner', 'auditor', 'admin'} <= roles
    _bilingual(chart['notes'], 'notes')


def _set_by_code():
    """name -> where: the variables scripts assign and decision tables output, in processes/."""
    found = {}
    bpmn_ns = '{http://www.omg.org/spec/BPMN/20100524/MODEL}'
    for path in sorted(glob.glob(os.path.join(PROCESSES, '*.bpmn'))):
        for script in etree.parse(path).iter(f'{bpmn_ns}script'):
            for node in ast.walk(ast.parse(script.text or '')):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and not node.id.startswith('_'):
                    found.setdefault(node.id, os.path.basename(path))
    for path in sorted(glob.glob(os.path.join(PROCESSES, '*.dmn'))):
        for output in etree.parse(path).iter('{*}output'):
            found.setdefault(output.get('name'), os.path.basename(path))
    return found


def test_every_variable_set_by_a_script_or_decision_table_has_a_label_in_both_languages():
    """The case pages show them too: a form's field title, or forms/_variables.json."""
    with open(os.path.join(FORMS, VARIABLES_FILE), encoding='utf-8') as f:
        variables = json.load(f)['properties']
    titled = set(variables)
    for form in all_forms().values():
        titled |= {n for n, p in (form.get('schema', {}).get('properties') or {}).items() if 'title' in p}
    set_by_code = _set_by_code()
    assert {'approval_level', 'sla_response_due', 'reopen_count'} <= set(set_by_code)  # the scan finds them
    missing = {name: where for name, where in set_by_code.items() if name not in titled}
    assert not missing, f'no label for: {missing}'
    for name, prop in variables.items():
        assert set(prop['title']) == {'zh', 'en'} and all(prop['title'].values()), name
        for label in (prop.get('x-enum-labels') or {}).values():
            assert set(label) == {'zh', 'en'}, name
