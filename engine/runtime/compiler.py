"""Turning uploaded files into compiled, cached process definitions.

A definition is parsed once per process and content hash and then shared by
every case that runs on it; nothing here is rebuilt per request.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.errors import InvalidModel, ModelProblem
from engine.xmlsafe import parse_xml

from .parser import BPMN_NS, SourceFile, build_parser, problem_from_spiff
from .specs import Assignment, OpsflowUserTask


@dataclass(frozen=True)
class UserTaskInfo:
    element_id: str
    name: str
    assignment: Assignment


@dataclass
class CompiledProcess:
    """One executable process of a bundle, ready to start cases on."""

    key: str
    name: str
    spec: Any
    subprocess_specs: dict[str, Any]
    files: dict[str, str]
    content_hash: str
    main_file: str = ""  # the file that holds this process
    start_form_key: str | None = None
    initiator_variable: str | None = None
    start_messages: frozenset[str] = frozenset()  # names of messages that start a case
    start_timer: tuple[str, str, str] | None = None  # (element id, "date"|"duration"|"cycle", expression)
    manual_start: bool = True  # a plain (none) start event: people can start it from a form
    starter_groups: tuple[str, ...] = ()  # camunda:candidateStarterGroups; with starter_users empty: anyone
    starter_users: tuple[str, ...] = ()
    user_tasks: dict[str, UserTaskInfo] = field(default_factory=dict)
    element_names: dict[str, str] = field(default_factory=dict)


def content_hash(files: dict[str, str]) -> str:
    """A stable hash of the files a process needs (names and verbatim text)."""
    canonical = json.dumps(sorted(files.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_sources(files: dict[str, bytes | str], *, max_bytes: int) -> list[SourceFile]:
    """Parse each uploaded file with the hardened XML parser, keeping its text verbatim."""
    sources = []
    for name, raw in files.items():
        data = raw.encode("utf-8") if isinstance(raw, str) else raw
        root = parse_xml(data, file_name=name, max_bytes=max_bytes)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidModel(
                "files must be UTF-8 encoded", [ModelProblem(f"not UTF-8: {exc}", file_name=name, reason="not_utf8")]
            ) from exc
        sources.append(SourceFile(name=name, text=text, root=root))
    return sources


def _start_attribute(process_node: Any, attribute: str) -> str | None:
    """A Camunda attribute of the process's own (top-level) start events."""
    for start in process_node.iter(f"{{{BPMN_NS}}}startEvent"):
        if start.getparent() is process_node:
            value = start.get(f"{{{CAMUNDA_MODEL_NS}}}{attribute}")
            if value:
                return str(value)
    return None


def _process_list(process_node: Any, attribute: str) -> tuple[str, ...]:
    """A comma-separated Camunda attribute of the process element itself."""
    value = process_node.get(f"{{{CAMUNDA_MODEL_NS}}}{attribute}") or ""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _has_none_start(process_node: Any) -> bool:
    """A top-level start event without an event definition (no message, timer, signal...)."""
    return any(start.getparent() is process_node and not any("EventDefinition" in etree.QName(c).localname
                                                              for c in start if isinstance(c.tag, str))
               for start in process_node.iter(f"{{{BPMN_NS}}}startEvent"))


def _start_messages(process_node: Any) -> frozenset[str]:
    """Names of the messages the process's own start events wait for."""
    names = set()
    root = process_node.getroottree().getroot()
    for start in process_node.iter(f"{{{BPMN_NS}}}startEvent"):
        if start.getparent() is not process_node:
            continue
        for definition in start.iter(f"{{{BPMN_NS}}}messageEventDefinition"):
            ref = definition.get("messageRef")
            message = next((m for m in root.iter(f"{{{BPMN_NS}}}message") if m.get("id") == ref), None)
            names.add(message.get("name") if message is not None and message.get("name") else start.get("name"))
    return frozenset(n for n in names if n)


TIMER_KINDS = {"timeDate": "date", "timeDuration": "duration", "timeCycle": "cycle"}


def _start_timer(process_node: Any) -> tuple[str, str, str] | None:
    """The process's own timer start event: (element id, kind, expression text)."""
    for start in process_node.iter(f"{{{BPMN_NS}}}startEvent"):
        if start.getparent() is not process_node:
            continue
        for definition in start.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
            for child in definition:
                kind = TIMER_KINDS.get(etree.QName(child).localname)
                if kind and (child.text or "").strip():
                    return str(start.get("id")), kind, child.text.strip()
    return None


def _decision_refs(process_node: Any) -> set[str]:
    attr = f"{{{CAMUNDA_MODEL_NS}}}decisionRef"
    return {node.get(attr) for node in process_node.iter(f"{{{BPMN_NS}}}businessRuleTask") if node.get(attr)}


def _placed(problem: ModelProblem, sources: list[SourceFile]) -> ModelProblem:
    """A missing called process is found only when the caller's spec is built, without the caller: place the
    problem at the first call activity that names it."""
    if problem.reason != "called_process_missing" or problem.element_id is not None:
        return problem
    called = (problem.params or {}).get("process")
    for source in sources:
        for node in source.root.iter(f"{{{BPMN_NS}}}callActivity"):
            if node.get("calledElement") == called:
                problem.element_id, problem.file_name, problem.line = node.get("id"), source.name, node.sourceline
                return problem
    return problem


def compile_bundle(sources: list[SourceFile], only: str | None = None) -> list[CompiledProcess]:
    """Compile every executable process of a bundle (or just `only`); raise InvalidModel with placed problems."""
    parser = build_parser(sources)
    process_ids = [pid for pid in parser.get_process_ids() if only is None or pid == only]
    if not process_ids:
        non_exec = [pid for pid, pp in parser.process_parsers.items() if not pp.process_executable]
        why = (
            f"no executable process: {', '.join(non_exec)} {'is' if len(non_exec) == 1 else 'are'} "
            'marked isExecutable="false"'
            if non_exec
            else "the bundle contains no BPMN process"
        )
        problem = (ModelProblem(why, element_id=non_exec[0], reason="not_executable",
                                params={"processes": ", ".join(non_exec)})
                   if non_exec else ModelProblem(why, reason="no_process"))
        raise InvalidModel("nothing to deploy", [problem])
    text_by_name = {s.name: s.text for s in sources}
    compiled = []
    for pid in process_ids:
        try:
            spec = parser.get_spec(pid)
            subprocess_specs = parser.get_subprocess_specs(pid)
        except (ValidationException, SpiffWorkflowException) as exc:
            raise InvalidModel(f"process {pid} cannot be built", [_placed(problem_from_spiff(exc), sources)]) from exc
        process_parser = parser.get_process_parser(pid)
        needed = {process_parser.filename}
        nodes = [process_parser.node]
        for sub_id in subprocess_specs:
            sub_parser = parser.get_process_parser(sub_id)
            if sub_parser is not None:
                needed.add(sub_parser.filename)
                nodes.append(sub_parser.node)
        for node in nodes:
            for ref in _decision_refs(node):
                dmn = parser.dmn_parsers.get(ref)
                if dmn is not None:
                    needed.add(dmn.filename)
        files = {name: text_by_name[name] for name in sorted(needed)}
        compiled.append(_describe(pid, process_parser, spec, subprocess_specs, files))
    return compiled


def _describe(
    pid: str, process_parser: Any, spec: Any, subprocess_specs: dict[str, Any], files: dict[str, str]
) -> CompiledProcess:
    user_tasks: dict[str, UserTaskInfo] = {}
    names: dict[str, str] = {}
    for each in [spec, *[s for s in subprocess_specs.values() if s is not None]]:
        for task_spec in each.task_specs.values():
            bpmn_id = getattr(task_spec, "bpmn_id", None)
            if bpmn_id is None:
                continue
            names[bpmn_id] = task_spec.bpmn_name or bpmn_id
            if isinstance(task_spec, OpsflowUserTask):
                user_tasks[bpmn_id] = UserTaskInfo(bpmn_id, names[bpmn_id], task_spec.assignment)
    return CompiledProcess(
        key=pid,
        name=process_parser.get_name(),
        spec=spec,
        subprocess_specs=subprocess_specs,
        files=files,
        content_hash=content_hash(files),
        main_file=process_parser.filename,
        start_form_key=_start_attribute(process_parser.node, "formKey"),
        initiator_variable=_start_attribute(process_parser.node, "initiator"),
        start_messages=_start_messages(process_parser.node),
        start_timer=_start_timer(process_parser.node),
        manual_start=_has_none_start(process_parser.node),
        starter_groups=_process_list(process_parser.node, "candidateStarterGroups"),
        starter_users=_process_list(process_parser.node, "candidateStarterUsers"),
        user_tasks=user_tasks,
        element_names=names,
    )


class SpecCache:
    """Compiled processes by (content hash, key), parsed at most once per process (LRU-bounded)."""

    def __init__(self, max_entries: int = 128, max_bytes: int = 5 * 1024 * 1024) -> None:
        self._entries: OrderedDict[tuple[str, str], CompiledProcess] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries
        self._max_bytes = max_bytes

    def put(self, compiled: CompiledProcess) -> None:
        with self._lock:
            self._entries[(compiled.content_hash, compiled.key)] = compiled
            self._entries.move_to_end((compiled.content_hash, compiled.key))
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def get(self, digest: str, key: str, files: dict[str, str] | None = None) -> CompiledProcess | None:
        """The cached process, or one compiled from `files` (the stored sources) when given."""
        with self._lock:
            found = self._entries.get((digest, key))
            if found is not None:
                self._entries.move_to_end((digest, key))
                return found
        if files is None:
            return None
        (compiled,) = compile_bundle(load_sources(dict(files), max_bytes=self._max_bytes), only=key)
        self.put(compiled)
        return compiled
