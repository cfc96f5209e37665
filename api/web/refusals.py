"""The engine's refusals in the page's language.

The engine says why it refused in English (`message`, for logs and the API's `detail`) and, for the
refusals a person meets in the pages, with a stable `reason` and the `params` of its message; this is
the catalog that says them in Chinese or English. A refusal without a reason here shows its message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Response
from flask_babel import gettext as _

from engine.errors import AuthenticationFailed, ModelProblem, OpsflowError

from ..problems import status_of
from ..security import login_redirect
from .base import error_page, web
from .filters import bilingual, state_label


def _task_not_open(p: dict[str, Any]) -> str:
    if p.get("by"):
        return _("“%(name)s” is no longer open: %(by)s has already %(state)s it.", name=p["name"], by=p["by"],
                 state=state_label(p["state"]))
    return _("“%(name)s” is no longer open: it was %(state)s.", name=p["name"], state=state_label(p["state"]))


_MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "task_not_open": _task_not_open,
    "task_claimed_by_other": lambda p: _("“%(name)s” has already been taken by %(assignee)s.", **p),
    "task_assigned_to_other": lambda p: _("“%(name)s” is assigned to %(assignee)s, not to you.", **p),
    "task_not_offered": lambda p: _("“%(name)s” is not offered to you or your groups.", **p),
    "task_not_claimed": lambda p: _("“%(name)s” is not taken by anyone (it is %(state)s).", name=p["name"],
                                    state=state_label(p["state"])),
    "sod_started_case": lambda p: _(
        "Separation of duties: you started this case, so someone else must do “%(name)s”.", **p),
    "sod_completed_earlier": lambda p: _(
        "Separation of duties: you did “%(earlier)s” in this case, so someone else must do “%(name)s”.", **p),
    "case_suspended": lambda p: _("The case is suspended: its tasks can be done once an administrator resumes it."),
    "case_not_active": lambda p: _("The case is %(state)s: this can no longer be done.",
                                   state=state_label(p["state"])),
    "case_not_suspended": lambda p: _("The case is %(state)s, not suspended.", state=state_label(p["state"])),
    "case_not_visible": lambda p: _("You may only see cases you started or took part in."),
    "case_not_found": lambda p: _("This case does not exist."),
    "task_not_found": lambda p: _("This task does not exist (any more)."),
    "process_not_found": lambda p: _("There is no process “%(process_key)s”.", **p),
    "start_not_allowed": lambda p: _("Only %(starters)s may start this process.", **p),
    "cancel_not_allowed": lambda p: _("Only the person who started a case, or an administrator, may cancel it."),
    "admin_only": lambda p: _("This needs the administrator role."),
}
_NAMES = ("name", "earlier")  # params that are '中文 / English' names of diagram elements


def refusal(exc: OpsflowError) -> str:
    """What the page says of `exc`, in the page's language."""
    say = _MESSAGES.get(exc.reason or "")
    if say is None:
        return exc.message
    params = {k: bilingual(v) if k in _NAMES else v for k, v in exc.params.items()}
    return say(params)


@web.errorhandler(OpsflowError)
def _engine_error(exc: OpsflowError) -> Response:
    if isinstance(exc, AuthenticationFailed):
        return login_redirect()  # type: ignore[return-value]
    return error_page(status_of(exc), refusal(exc))


def model_problem_templates() -> dict[str, str]:
    """Deploy problems (opsflow's own rules and SpiffWorkflow's findings) in the page's language, by reason:
    `{param}` templates, which `model_problem_text` fills here and the editor's script fills in the browser."""
    return {
        "unsupported_complexGateway": _("Complex gateways are not supported: use an inclusive or exclusive gateway."),
        "unsupported_compensateEventDefinition": _("Compensation events are not supported."),
        "unsupported_linkEventDefinition": _("Link events are not supported: connect the flows directly."),
        "unsupported_adHocSubProcess": _("Ad-hoc subprocesses are not supported."),
        "unsupported_eventBasedGateway": _(
            "Event-based gateways are not supported: wait with a receive task or an intermediate event, and use a "
            "boundary timer for the deadline."),
        "unsupported_compensation": _("Compensation activities are not supported."),
        "decision_ref_missing": _(
            "A business rule task needs camunda:decisionRef, the id of a DMN decision in the bundle."),
        "form_missing": _("The form “%(form)s” does not exist in forms/.", form="{form}"),
        "start_form_missing": _("The start form “%(form)s” does not exist in forms/.", form="{form}"),
        "script_cannot_run": _("The script cannot run: %(detail)s", detail="{detail}"),
        "script_cannot_run_line": _("The script cannot run (line %(line)s): %(detail)s", line="{line}",
                                    detail="{detail}"),
        "condition_cannot_run": _("The condition of the flow to %(target)s cannot run: %(detail)s",
                                  target="{target}", detail="{detail}"),
        "juel_hint": _("Expressions are Python: write not, and, or instead of !, &&, ||."),
        "xml_malformed": _("The file is not well-formed XML: %(detail)s", detail="{detail}"),
        "xml_doctype": _("DOCTYPE and entity declarations are not allowed in BPMN/DMN files."),
        "timer_invalid": _("The timer start event's value “%(value)s” is not a valid ISO-8601 date, duration or "
                           "cycle.", value="{value}"),
        "not_bpmn": _("This is not a BPMN or DMN document (its root element is %(root)s).", root="{root}"),
        "not_utf8": _("The file is not UTF-8 encoded."),
        "no_files": _("Upload at least one .bpmn file."),
        "not_executable": _("No executable process: %(processes)s is marked isExecutable=\"false\" (tick "
                            "“Executable” in the process's properties).", processes="{processes}"),
        "no_process": _("The files contain no BPMN process."),
        "timer_not_evaluable": _("The start timer's expression cannot be evaluated: %(detail)s", detail="{detail}"),
        "file_unreadable": _("The engine cannot read this file: %(detail)s", detail="{detail}"),
        **_spiff_finding_templates(),
    }


def _spiff_finding_templates() -> dict[str, str]:
    """SpiffWorkflow's and the BPMN schema's findings, by the reasons engine/runtime/findings.py gives them."""
    return {
        "xsd_unexpected_element": _("The BPMN 2.0 schema does not allow a <%(element)s> element here.",
                                    element="{element}"),
        "xsd_attribute_not_allowed": _("The BPMN 2.0 schema does not allow the attribute %(attribute)s on "
                                       "<%(element)s>.", attribute="{attribute}", element="{element}"),
        "xsd_attribute_missing": _("<%(element)s> needs the attribute %(attribute)s.", element="{element}",
                                   attribute="{attribute}"),
        "xsd_missing_child": _("<%(element)s> lacks an element the BPMN 2.0 schema requires inside it.",
                               element="{element}"),
        "xsd_invalid_value": _("“%(value)s” is not a valid value for %(attribute)s of <%(element)s> (it must be "
                               "of type %(type)s; an id starts with a letter or _).", value="{value}",
                               attribute="{attribute}", element="{element}", type="{type}"),
        "xsd_duplicate_id": _("The id “%(value)s” is used by more than one element: each element needs its own.",
                              value="{value}"),
        "xsd_invalid_attribute": _("The attribute %(attribute)s of <%(element)s> does not follow the BPMN 2.0 "
                                   "schema: %(detail)s", attribute="{attribute}", element="{element}",
                                   detail="{detail}"),
        "xsd_invalid": _("<%(element)s> does not follow the BPMN 2.0 schema: %(detail)s", element="{element}",
                         detail="{detail}"),
        "no_start_event": _("The process has no start event."),
        "flow_without_condition": _("A flow leaving an exclusive gateway has no condition: give it one, or make it "
                                    "the gateway's default flow."),
        "multiple_outgoing_flows": _("This element cannot have more than one outgoing flow: add a gateway after it."),
        "duplicate_process": _("Two processes in the bundle have the id “%(process)s”: each needs its own.",
                               process="{process}"),
        "called_process_missing": _("A call activity calls the process “%(process)s”, which is not in the bundle "
                                    "(it has: %(known)s).", process="{process}", known="{known}"),
        "multi_instance_unspecified": _("A multi-instance activity needs a cardinality or a collection to run over."),
        "loop_unspecified": _("A loop activity needs a loopMaximum or a loopCondition."),
        "script_missing": _("The script task has no script."),
        "timer_spec_invalid": _("The timer has no valid time: give an ISO-8601 date, duration or cycle."),
        "message_ref_missing": _("The message event definition “%(ref)s” names no message.", ref="{ref}"),
        "subprocess_start_events": _("A subprocess needs exactly one start event (it has %(count)s).",
                                     count="{count}"),
        "subprocess_no_end": _("A subprocess needs an end event."),
        "conditional_event_no_condition": _("The conditional event has no condition."),
        "cancel_outside_transaction": _("Cancel events may only be used in a transaction subprocess."),
        "definition_id_missing": _("A %(kind)s definition has no id.", kind="{kind}"),
        "event_ref_missing": _("The event refers to a message, signal, error or escalation that the file does not "
                               "define."),
        "reference_unresolved": _("This element refers to something the file does not define (for an event: its "
                                  "message, signal, error or escalation)."),
        "dmn_no_decision": _("The DMN file contains no decision."),
        "dmn_multiple_tables": _("A decision may have only one decision table."),
        "data_association_unresolved": _("The data association “%(name)s” refers to nothing in the process.",
                                         name="{name}"),
        "flow_target_missing": _("A sequence flow leads to “%(target)s”, which is not an element of the process.",
                                 target="{target}"),
        "task_type_unsupported": _("The engine does not support this kind of task."),
        "process_not_executable": _("The process %(process)s is not marked executable.", process="{process}"),
    }


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def translated_problem(problem: ModelProblem) -> str | None:
    """A deploy problem in the page's language, or None when it cannot be said so: a finding of SpiffWorkflow's
    that engine/runtime/findings.py does not know (no reason), a reason without a template, or a template whose
    params are not all given. The same rule as `translated` in js/editor/problems.js."""
    templates = model_problem_templates()
    template = templates.get(problem.reason or "")
    if template is None:
        return None
    params = problem.params or {}
    names = _PLACEHOLDER.findall(template)
    if any(params.get(name) is None for name in names):
        return None
    text = _PLACEHOLDER.sub(lambda m: str(params[m.group(1)]), template)
    return f"{text} {templates['juel_hint']}" if params.get("juel") else text


@web.app_template_filter("problem_text")
def model_problem_text(problem: ModelProblem) -> str:
    """A deploy problem in the page's language where it can be, else as the engine words it (English)."""
    return translated_problem(problem) or problem.message


@web.app_template_test("translated_problem")
def is_translated_problem(problem: ModelProblem) -> bool:
    return translated_problem(problem) is not None
