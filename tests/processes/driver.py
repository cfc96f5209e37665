"""In-memory driver for the process scenario tests.

A deliberately small stand-in for the real engine services, with the same interface the scenario tests
use, so that the implementation can later be swapped for the engine:

    driver = InMemoryDriver(processes_dir)
    case = driver.start(key, data, user="alice")
    case.open_tasks()            -> [OpenTask(element_id, name, candidate_groups, assignee, form_key)]
    case.complete(element_id, data, user="bob")
    case.is_completed, case.data, case.end_events, case.completed_by(element_id)

Extension used by a few tests (not part of the minimal interface): ``case.fire_timer(element_id)``
makes a waiting timer event due now, instead of waiting for it.

It runs plain SpiffWorkflow 3.2 (CamundaParser + BpmnWorkflow) with the default script engine, extended
with the helper functions the engine's sandbox provides to diagrams (now, today, timedelta,
iso_duration, ...; `unit_heads` reads the org chart's demo users). Candidate groups and users, assignee,
form keys and separation of duties are read from the BPMN XML with lxml, the way the engine's user-task parser
extension does it.
"""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import jsonschema
from lxml import etree
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
)
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.util.task import TaskState

from engine.identity.org import HEAD_ROLE, nearest_heads

BPMN_NS = 'http://www.omg.org/spec/BPMN/20100524/MODEL'
CAMUNDA_NS = 'http://camunda.org/schema/1.0/bpmn'
NS = {'bpmn': BPMN_NS, 'camunda': CAMUNDA_NS}
EXPR = re.compile(r'^\s*\$\{(.*)\}\s*$', re.S)


class DriverError(Exception):
    pass


class SeparationOfDutiesViolation(DriverError):
    pass


class NotAssignee(DriverError):
    pass


class FormValidationError(DriverError):
    pass


class NoSuchTask(DriverError):
    pass


# ---- helpers the engine's sandbox offers to diagrams -------------------------------------------------
def now():
    return datetime.now(UTC)


def today():
    return now().date()


def parse_datetime(s):
    return datetime.fromisoformat(s)


def parse_date(s):
    return date.fromisoformat(s)


def iso_duration(days=0, hours=0, minutes=0, seconds=0):
    """ISO-8601 duration string as the engine's helper builds it: iso_duration(hours=4) == 'PT4H',
    iso_duration(minutes=180) == 'PT180M' (components are not normalised)."""

    def fmt(value):
        return str(int(value)) if float(value).is_integer() else f'{value:g}'

    date_part = f'{fmt(days)}D' if days else ''
    time_part = ''.join(f'{fmt(v)}{u}' for u, v in (('H', hours), ('M', minutes), ('S', seconds)) if v)
    if not date_part and not time_part:
        return 'PT0S'
    return 'P' + date_part + (f'T{time_part}' if time_part else '')


def chart_helpers(chart):
    """`unit_heads` and `group_heads` over an org chart's groups and demo users, as the engine answers them from
    its identity tables."""
    parents = {g['key']: g.get('parent') for g in chart['groups']}
    users = {u['username']: u for u in chart.get('demo_users', [])}
    heads = {}
    for user in users.values():
        if HEAD_ROLE in user.get('roles', []):
            for group in user.get('groups', []):
                heads.setdefault(group, set()).add(user['username'])

    def unit_heads(username):
        return nearest_heads(users.get(username, {}).get('groups', []), parents, heads, username)

    def group_heads(group, person=''):
        if group not in parents:
            raise ValueError(f'group_heads(): there is no group {group!r} in the org chart')
        return nearest_heads([group], parents, heads, person)

    return {'unit_heads': unit_heads, 'group_heads': group_heads}


HELPERS = {
    'datetime': datetime,
    'date': date,
    'time': time,
    'timedelta': timedelta,
    'timezone': timezone,
    'Decimal': Decimal,
    'now': now,
    'today': today,
    'parse_datetime': parse_datetime,
    'parse_date': parse_date,
    'iso_duration': iso_duration,
    'json_dumps': json.dumps,
    'json_loads': json.loads,
}


def strip_expression(text):
    """'${ expr }' -> 'expr'; other text unchanged."""
    m = EXPR.match(text or '')
    return m.group(1).strip() if m else text


# ---- model metadata read from the XML ----------------------------------------------------------------
@dataclass
class ElementInfo:
    process_key: str  # top-level process (file) the element lives in
    element_id: str
    tag: str
    name: str | None
    lane: str | None
    attrs: dict
    properties: dict = field(default_factory=dict)

    @property
    def form_key(self):
        return self.attrs.get('formKey')

    @property
    def candidate_groups(self):
        raw = self.attrs.get('candidateGroups')
        if raw:
            return [g.strip() for g in raw.split(',') if g.strip()]
        if not self.attrs.get('assignee') and not self.attrs.get('candidateUsers') and self.lane:
            return [self.lane]
        return []


class ModelIndex:
    """Reads every .bpmn in a directory: elements per (container process id, element id)."""

    def __init__(self, processes_dir):
        self.elements: dict[tuple[str, str], ElementInfo] = {}
        self.container_to_key: dict[str, str] = {}
        self.trees: dict[str, etree._ElementTree] = {}
        for path in sorted(glob.glob(os.path.join(processes_dir, '*.bpmn'))):
            parser = etree.XMLParser(resolve_entities=False, no_network=True)
            tree = etree.parse(path, parser)
            for proc in tree.getroot().findall('bpmn:process', NS):
                key = proc.get('id')
                self.trees[key] = tree
                lanes = {}
                for lane in proc.iterfind('.//bpmn:lane', NS):
                    for ref in lane.findall('bpmn:flowNodeRef', NS):
                        lanes[ref.text.strip()] = lane.get('id')
                self._walk(proc, key, key, lanes, None)

    def _walk(self, container, key, container_id, lanes, inherited_lane):
        self.container_to_key[container_id] = key
        for el in container:
            if not isinstance(el.tag, str) or not el.tag.startswith(f'{{{BPMN_NS}}}'):
                continue
            tag = etree.QName(el).localname
            eid = el.get('id')
            if eid is None or tag in ('laneSet', 'sequenceFlow', 'documentation', 'extensionElements'):
                continue
            lane = lanes.get(eid, inherited_lane)
            attrs = {
                etree.QName(k).localname: v
                for k, v in el.attrib.items()
                if etree.QName(k).namespace == CAMUNDA_NS
            }
            props = {
                p.get('name'): p.get('value')
                for p in el.findall('bpmn:extensionElements/camunda:properties/camunda:property', NS)
            }
            self.elements[(container_id, eid)] = ElementInfo(
                key, eid, tag, el.get('name'), lane, attrs, props
            )
            if tag == 'subProcess':
                self._walk(el, key, eid, lanes, lane)

    def info(self, task) -> ElementInfo:
        container = task.workflow.spec.name
        return self.elements[(container, task.task_spec.bpmn_id)]

    def start_event(self, key) -> ElementInfo | None:
        starts = [e for (c, _), e in self.elements.items() if c == key and e.tag == 'startEvent']
        return starts[0] if starts else None


# ---- driver ------------------------------------------------------------------------------------------
@dataclass
class OpenTask:
    element_id: str
    name: str
    candidate_groups: list
    assignee: str | None
    form_key: str | None
    due_date: str | None = None
    priority: object = None
    process_key: str | None = None
    candidate_users: list = field(default_factory=list)


class FindsTasks:
    """`case.task(element_id)`: the open task at an element, for every driver's case (needs `open_tasks()`)."""

    def task(self, element_id):
        open_tasks = self.open_tasks()
        for task in open_tasks:
            if task.element_id == element_id:
                return task
        raise NoSuchTask(f'{element_id} is not open; open: {[t.element_id for t in open_tasks]}')


class InMemoryDriver:
    def __init__(self, processes_dir, forms_dir=None):
        self.processes_dir = processes_dir
        self.forms_dir = forms_dir or os.path.join(os.path.dirname(os.path.abspath(processes_dir)), 'forms')
        self.parser = CamundaParser()
        self.parser.add_bpmn_files(sorted(glob.glob(os.path.join(processes_dir, '*.bpmn'))))
        self.parser.add_dmn_files(sorted(glob.glob(os.path.join(processes_dir, '*.dmn'))))
        self.index = ModelIndex(processes_dir)
        self._forms = {}
        with open(os.path.join(processes_dir, 'org_chart.json'), encoding='utf-8') as f:
            self.org_helpers = chart_helpers(json.load(f))

    def form(self, key):
        if key not in self._forms:
            with open(os.path.join(self.forms_dir, key + '.json'), encoding='utf-8') as f:
                self._forms[key] = json.load(f)
        return self._forms[key]

    def script_engine(self):
        return PythonScriptEngine(environment=TaskDataEnvironment({**HELPERS, **self.org_helpers}))

    def start(self, key, data=None, user='alice'):
        spec = self.parser.get_spec(key)
        subprocesses = self.parser.get_subprocess_specs(key)
        workflow = BpmnWorkflow(spec, subprocesses, script_engine=self.script_engine())
        start = self.index.start_event(key)
        payload = dict(data or {})
        if start is not None and start.form_key:
            payload = self._apply_form(start.form_key, payload)
        if start is not None and start.attrs.get('initiator'):
            payload[start.attrs['initiator']] = user
        workflow.get_tasks(state=TaskState.READY)[0].data.update(payload)
        case = Case(self, key, workflow, user)
        case._run()
        return case

    def _apply_form(self, form_key, data):
        form = self.form(form_key)
        schema = form['schema']
        declared = schema.get('properties', {})
        values = {k: v for k, v in data.items() if k in declared}
        missing = [r for r in schema.get('required', []) if values.get(r) in (None, '')]
        if missing:
            raise FormValidationError(f'{form_key}: required fields missing: {missing}')
        try:
            jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(
                values
            )
        except jsonschema.ValidationError as exc:
            raise FormValidationError(f'{form_key}: {exc.message}') from exc
        return values


class Case(FindsTasks):
    def __init__(self, driver, key, workflow, starter):
        self.driver, self.key, self.workflow, self.starter = driver, key, workflow, starter
        self.history: list[tuple[str, str]] = []  # (element id, user) in completion order

    # -- queries
    def _ready_user_tasks(self):
        return [t for t in self.workflow.get_tasks(state=TaskState.READY) if t.task_spec.manual]

    def _evaluate(self, task, text):
        expr = strip_expression(text)
        if expr is text:
            return text
        return self.workflow.script_engine.evaluate(task, expr)

    def open_tasks(self):
        out = []
        for t in self._ready_user_tasks():
            info = self.driver.index.info(t)
            assignee = info.attrs.get('assignee')
            due = info.attrs.get('dueDate')
            prio = info.attrs.get('priority')
            users = info.attrs.get('candidateUsers')
            out.append(
                OpenTask(
                    element_id=info.element_id,
                    name=info.name,
                    candidate_groups=info.candidate_groups,
                    assignee=self._evaluate(t, assignee) if assignee else None,
                    form_key=info.form_key,
                    due_date=self._evaluate(t, due) if due else None,
                    priority=self._evaluate(t, prio) if prio else None,
                    process_key=info.process_key,
                    candidate_users=self._candidate_users(t, users),
                )
            )
        return out

    def _candidate_users(self, task, raw):
        value = self._evaluate(task, raw) if raw else []
        return [u.strip() for u in value.split(',') if u.strip()] if isinstance(value, str) else list(value)

    @property
    def is_completed(self):
        return self.workflow.is_completed()

    @property
    def data(self):
        if self.workflow.is_completed():
            return dict(self.workflow.data)
        # running case: the latest value of every variable on any branch
        merged = {}
        seen = [
            t
            for t in self.workflow.get_tasks()
            if t.state in (TaskState.COMPLETED, TaskState.READY, TaskState.WAITING, TaskState.STARTED)
        ]
        for t in sorted(seen, key=lambda t: t.last_state_change):
            merged.update(t.data)
        return merged

    @property
    def end_events(self):
        # iterate every task: a filtered iterator does not descend below a WAITING task (cycle timer start)
        done = [
            t
            for t in self.workflow.get_tasks()
            if t.state == TaskState.COMPLETED
            and t.workflow is self.workflow
            and t.task_spec.__class__.__name__ == 'EndEvent'
        ]
        return [t.task_spec.bpmn_id for t in sorted(done, key=lambda t: t.last_state_change)]

    def completed_by(self, element_id):
        users = [u for e, u in self.history if e == element_id]
        return users[-1] if users else None

    # -- commands
    def complete(self, element_id, data=None, user='bob'):
        ready = [t for t in self._ready_user_tasks() if t.task_spec.bpmn_id == element_id]
        if not ready:
            raise NoSuchTask(f'{element_id} is not open; open: {[t.element_id for t in self.open_tasks()]}')
        task = ready[0]
        info = self.driver.index.info(task)
        sod = info.properties.get('separation_of_duties')
        if sod:
            for name in [n.strip() for n in sod.split(',') if n.strip()]:
                if name == 'starter' and user == self.starter:
                    raise SeparationOfDutiesViolation(f'{user} started the case and may not do {element_id}')
                if name != 'starter' and any(e == name and u == user for e, u in self.history):
                    raise SeparationOfDutiesViolation(f'{user} did {name} and may not do {element_id}')
        assignee = info.attrs.get('assignee')
        if assignee and self._evaluate(task, assignee) != user:
            raise NotAssignee(f'{element_id} is assigned to {self._evaluate(task, assignee)}, not {user}')
        offered = self._candidate_users(task, info.attrs.get('candidateUsers'))
        if offered and not info.candidate_groups and user not in offered:
            raise NotAssignee(f'{element_id} is offered to {offered}, not {user}')
        values = self.driver._apply_form(info.form_key, dict(data or {})) if info.form_key else {}
        task.data.update(values)
        task.run()
        self.history.append((element_id, user))
        self._run()

    def fire_timer(self, element_id):
        """Make the waiting timer event `element_id` due now and run what follows."""
        past = (now() - timedelta(seconds=1)).isoformat()
        waiting = [
            t for t in self.workflow.get_tasks(state=TaskState.WAITING) if t.task_spec.bpmn_id == element_id
        ]
        if not waiting:
            raise NoSuchTask(f'timer {element_id} is not waiting')
        task = waiting[0]
        definition = task.task_spec.event_definition
        if isinstance(definition, CycleTimerEventDefinition):
            definition.cycle_complete(task)  # initialise the cycle
            value = task._get_internal_data('event_value')
            value['next'] = past
            task._set_internal_data(event_value=value)
        elif isinstance(definition, (DurationTimerEventDefinition, TimeDateEventDefinition)):
            task._set_internal_data(event_value=past)
        else:
            raise DriverError(f'{element_id} is not a timer event')
        self._run()

    def _run(self):
        self.workflow.do_engine_steps()
        self.workflow.refresh_timers()
        self.workflow.do_engine_steps()
