"""SpiffWorkflow's own validation findings, given a reason and params so the pages can say them.

SpiffWorkflow words what its parser and the BPMN 2.0 schema (lxml) find in English only. Each finding a
process owner meets when drawing is recognised here by its wording in SpiffWorkflow 3.2 and libxml2, and
named with a stable `reason` and the `params` its text needs, as opsflow's own rules do
(api/web/refusals.py says them). A finding no pattern matches keeps no reason and is shown as worded.
"""

from __future__ import annotations

import re
from typing import Any

_NS = r"\{[^}]*\}"
# libxml2's schema messages start with the element (and attribute) they concern.
_ELEMENT = rf"Element '(?:{_NS})?(?P<element>[\w.-]+)'"
_ATTRIBUTE = rf"{_ELEMENT}, attribute '(?:{_NS})?(?P<attribute>[\w.:-]+)'"

# (pattern, reason): the first match names the finding; its named groups are the params.
_FINDINGS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(pattern), reason) for pattern, reason in (
    (rf"^{_ELEMENT}: This element is not expected\.", "xsd_unexpected_element"),
    (rf"^{_ATTRIBUTE}: The attribute '[^']*' is not allowed\.", "xsd_attribute_not_allowed"),
    (rf"^{_ELEMENT}: The attribute '(?P<attribute>[^']*)' is required but missing\.", "xsd_attribute_missing"),
    (rf"^{_ELEMENT}: Missing child element\(s\)\.", "xsd_missing_child"),
    (rf"^{_ATTRIBUTE}: '(?P<value>[^']*)' is not a valid value of the (?:atomic|list|union) type '(?P<type>[^']*)'",
     "xsd_invalid_value"),
    (rf"^{_ATTRIBUTE}: (?P<detail>.+)$", "xsd_invalid_attribute"),
    (rf"^{_ELEMENT}: (?P<detail>.+)$", "xsd_invalid"),
    (r"^No start event found", "no_start_event"),
    (r"^Non-default exclusive outgoing sequence flow without condition", "flow_without_condition"),
    (r"^Multiple outgoing flows are not supported for tasks of type", "multiple_outgoing_flows"),
    (r"^Duplicate process ID: (?P<process>.+)$", "duplicate_process"),
    (r"^The process '(?P<process>[^']*)' was not found\. Did you mean one of the following: (?P<known>.*)\?$",
     "called_process_missing"),
    (r"^A multiinstance task must specify", "multi_instance_unspecified"),
    (r"^A loopMaximum or loopCondition must be specified", "loop_unspecified"),
    (r"^Invalid Script Task\.\s+No Script Provided", "script_missing"),
    (r"^(?:Time Specification Error|Unknown Time Specification)", "timer_spec_invalid"),
    (r"^Could not find messageRef from message event definition: (?P<ref>.+)$", "message_ref_missing"),
    (r"^Exactly one start event is required in a SubWorkflow Task; found (?P<count>\d+)", "subprocess_start_events"),
    (r"^A SubWorkflow Must contain an End event", "subprocess_no_end"),
    (r"^Conditional event definition with missing condition", "conditional_event_no_condition"),
    (r"^Cancel Events may only be used with transactions", "cancel_outside_transaction"),
    (r"^(?P<kind>Message|Signal|Error|Escalation|Correlation|Data Store) identifier is missing",
     "definition_id_missing"),
    (r"^Expected an? (?:Message|Signal|Error|Escalation) node", "event_ref_missing"),
    # SpiffWorkflow 3.2 fails on its own way of saying the above for a missing error (a TypeError it wraps)
    (r"^TypeError\(\"NodeParser\.raise_validation_exception\(\) got an unexpected keyword argument 'node'",
     "event_ref_missing"),
    # its XPath helper's assertion, wrapped, when a reference (a messageRef, say) names nothing in the file
    (r"^AssertionError\('Expected 1 result\. Received 0 results\.'\)$", "reference_unresolved"),
    (r"^No decisions found", "dmn_no_decision"),
    (r"^Multiple decision tables are not current supported", "dmn_multiple_tables"),
    (r"^Cannot resolve data(?:Input|Output)Association (?P<name>.+)$", "data_association_unresolved"),
    # raised when a sequence flow's targetRef names no element of the process (despite its wording)
    (r"^When looking for a task spec, we found two items, .*\((?P<target>[^()]*)\)$", "flow_target_missing"),
    (r"^There is no support implemented for this task type", "task_type_unsupported"),
    (r"^Process (?P<process>\S+) is not executable", "process_not_executable"),
))

#: Every reason a SpiffWorkflow finding may be given (the pages have a text for each).
REASONS: frozenset[str] = frozenset(reason for _, reason in _FINDINGS) | {"xsd_duplicate_id"}

# What libxml2 says of an xs:ID that is well formed but already used is what it says of a malformed one.
_NCNAME = re.compile(r"^[^\W\d][\w.-]*$")


def classify(message: str) -> tuple[str | None, dict[str, Any] | None]:
    """The reason and params of a SpiffWorkflow finding worded `message`; (None, None) for one not known."""
    text = message.strip()
    for pattern, reason in _FINDINGS:
        match = pattern.match(text)
        if match:
            params: dict[str, Any] = {k: v.strip() for k, v in match.groupdict().items() if v is not None}
            if "count" in params:
                params["count"] = int(params["count"])
            if reason == "xsd_invalid_value" and params.get("type") == "xs:ID" and _NCNAME.match(params["value"]):
                return "xsd_duplicate_id", {"value": params["value"]}
            return reason, params
    return None, None
