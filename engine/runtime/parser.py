"""Parsing BPMN/DMN bundles into SpiffWorkflow specs, with opsflow's own rules.

SpiffWorkflow's Camunda parser reads forms and properties but not
assignee / candidateUsers / candidateGroups / dueDate / priority; the user-task
parser here adds them. Elements SpiffWorkflow does not run correctly are
refused before parsing, with the element id and a readable message.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator, full_tag
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, UserTaskParser
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.errors import InvalidModel, ModelProblem

from .findings import classify
from .specs import Assignment, OpsflowUserTask

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DMN_NAMESPACES = {
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
}

# Elements SpiffWorkflow 3.2 parses but does not execute correctly, and why.
UNSUPPORTED_ELEMENTS: dict[str, str] = {
    "complexGateway": "complex gateways are not supported by the engine; use an inclusive or exclusive gateway",
    "compensateEventDefinition": "compensation events are not supported by the engine",
    "linkEventDefinition": "link events are not supported by the engine; connect the flows directly",
    "adHocSubProcess": "ad-hoc subprocesses are not supported by the engine",
    # SpiffWorkflow runs it, but a case waiting there would get neither its timer job nor its message
    # subscription here, so it would wait for ever.
    "eventBasedGateway": "event-based gateways are not supported by the engine; wait with a receive task or "
                         "an intermediate event, and a boundary timer for the deadline",
}


def _camunda(attr: str) -> str:
    return f"{{{CAMUNDA_MODEL_NS}}}{attr}"


class OpsflowUserTaskParser(UserTaskParser):
    """Reads the Camunda 7 assignment attributes into `OpsflowUserTask.assignment`."""

    def create_task(self):  # type: ignore[no-untyped-def]
        form = self.get_form()
        lane_id, lane_name = self._lane()
        properties = {
            node.get("name"): node.get("value") or ""
            for node in self.xpath(".//bpmn:extensionElements/camunda:properties/camunda:property")
            if node.get("name")
        }
        assignment = Assignment(
            assignee=self.node.get(_camunda("assignee")),
            candidate_users=self.node.get(_camunda("candidateUsers")),
            candidate_groups=self.node.get(_camunda("candidateGroups")),
            due_date=self.node.get(_camunda("dueDate")),
            priority=self.node.get(_camunda("priority")),
            form_key=self.node.get(_camunda("formKey")),
            lane_id=lane_id,
            lane_name=lane_name,
            properties=properties,
        )
        prescript, postscript = self._listener_scripts()
        return self.spec_class(self.spec, self.bpmn_id, form=form, assignment=assignment, prescript=prescript,
                               postscript=postscript, **self.bpmn_attributes)

    def _listener_scripts(self) -> tuple[str | None, str | None]:
        """Inline-script execution listeners: "start" -> pre-script, "end" -> post-script."""
        scripts: dict[str, str] = {}
        for listener in self.xpath("./bpmn:extensionElements/camunda:executionListener"):
            event = listener.get("event")
            script = listener.find(_camunda("script"))
            if script is None or event not in ("start", "end"):
                self.raise_validation_exception(
                    "only inline-script execution listeners on the start or end event can run here "
                    "(Java classes, expressions and delegate expressions cannot)")
            if event in scripts:
                self.raise_validation_exception(f"more than one {event!r} execution listener")
            scripts[event] = (script.text or "").strip()
        return scripts.get("start"), scripts.get("end")

    def _lane(self) -> tuple[str | None, str | None]:
        refs = self.process_parser.node.xpath(
            ".//bpmn:lane[bpmn:flowNodeRef[normalize-space(text())=$id]]",
            namespaces=self.nsmap,
            id=self.bpmn_id,
        )
        if not refs:
            return None, None
        lane = refs[-1]  # the innermost lane when lanes nest
        return lane.get("id"), lane.get("name")


class OpsflowParser(CamundaParser):
    """The Camunda parser with opsflow's user tasks."""

    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (OpsflowUserTaskParser, OpsflowUserTask),
    }


@dataclass
class SourceFile:
    """One uploaded file: its name, verbatim text and parsed tree."""

    name: str
    text: str
    root: etree._Element

    @property
    def is_dmn(self) -> bool:
        return etree.QName(self.root).namespace in DMN_NAMESPACES

    @property
    def is_bpmn(self) -> bool:
        return etree.QName(self.root).namespace == BPMN_NS


_VALIDATOR: BpmnValidator | None = None


def bpmn_validator() -> BpmnValidator:
    """The XSD validator is expensive to build; build it once per process."""
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = BpmnValidator()
    return _VALIDATOR


def find_unsupported(source: SourceFile) -> list[ModelProblem]:
    """Elements SpiffWorkflow would accept but run wrongly."""
    problems = []
    for local, why in UNSUPPORTED_ELEMENTS.items():
        for node in source.root.iter(f"{{{BPMN_NS}}}{local}"):
            owner = node if local.endswith("Gateway") or local == "adHocSubProcess" else node.getparent()
            problems.append(ModelProblem(why, element_id=owner.get("id"), file_name=source.name, line=node.sourceline,
                                         reason=f"unsupported_{local}"))
    for node in source.root.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        if not (node.get(_camunda("decisionRef")) or "").strip():
            problems.append(ModelProblem(
                "a business rule task needs camunda:decisionRef, the id of a DMN decision in the bundle",
                element_id=node.get("id"), file_name=source.name, line=node.sourceline, reason="decision_ref_missing"))
    for node in source.root.iter(f"{{{BPMN_NS}}}*"):
        if node.get("isForCompensation") == "true":
            problems.append(
                ModelProblem(
                    "compensation activities are not supported by the engine",
                    element_id=node.get("id"),
                    file_name=source.name,
                    line=node.sourceline,
                    reason="unsupported_compensation",
                )
            )
    return problems


def problem_from_spiff(exc: SpiffWorkflowException, default_file: str | None = None) -> ModelProblem:
    """Turn a SpiffWorkflow validation error into a placed ModelProblem."""
    message = str(exc.args[0]) if exc.args else str(exc)
    element_id = getattr(exc, "id", None) or (getattr(exc, "task_spec", None) and exc.task_spec.bpmn_id)
    line = getattr(exc, "line_number", None)
    reason, params = classify(message)  # None for a finding not known: shown as the library words it
    return ModelProblem(
        message=message,
        element_id=element_id or None,
        file_name=getattr(exc, "file_name", None) or default_file,
        line=line if isinstance(line, int) else None,
        reason=reason,
        params=params,
    )


def _element_at_line(root: etree._Element, line: int) -> str | None:
    """The id of the element that starts on `line` (XSD errors give only a line)."""
    for node in root.iter():
        if node.sourceline == line and node.get("id"):
            return str(node.get("id"))
    return None


def build_parser(sources: list[SourceFile]) -> OpsflowParser:
    """Validate and load every file of a bundle into one parser; raise InvalidModel on any problem."""
    problems: list[ModelProblem] = []
    for source in sources:
        if not (source.is_bpmn or source.is_dmn):
            problems.append(
                ModelProblem(f"not a BPMN or DMN document (root element {source.root.tag})", file_name=source.name,
                             reason="not_bpmn", params={"root": etree.QName(source.root).localname})
            )
        elif source.is_bpmn:
            problems.extend(find_unsupported(source))
    if problems:
        raise InvalidModel("the bundle uses elements the engine cannot run", problems)

    parser = OpsflowParser(validator=bpmn_validator())
    for source in sources:
        try:
            if source.is_dmn:
                parser.add_dmn_xml(source.root, filename=source.name)
            else:
                parser.add_bpmn_xml(source.root, filename=source.name)
        except SpiffWorkflowException as exc:  # ValidationException included
            problem = problem_from_spiff(exc, source.name)
            if problem.element_id is None and problem.line is not None:
                problem.element_id = _element_at_line(source.root, problem.line)
            problems.append(problem)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:  # the library's own parsing bugs
            detail = f"{type(exc).__name__}: {exc}"
            problems.append(ModelProblem(f"the engine cannot read this file ({detail})", file_name=source.name,
                                         reason="file_unreadable", params={"detail": detail}))
    if problems:
        raise InvalidModel("the bundle is not valid BPMN/DMN", problems)
    return parser
