"""Task-spec extensions: Camunda 7 assignment attributes on user tasks."""

from __future__ import annotations

from dataclasses import dataclass, field

from SpiffWorkflow.camunda.specs.user_task import UserTask as CamundaUserTask
from SpiffWorkflow.spiff.specs.spiff_task import SpiffBpmnTask


@dataclass(frozen=True)
class Assignment:
    """Who may work on a user task and when it is due, as written in the diagram.

    Values are the raw attribute texts: expressions (`${...}` or plain Python)
    are evaluated when the task becomes ready.
    """

    assignee: str | None = None
    candidate_users: str | None = None
    candidate_groups: str | None = None
    due_date: str | None = None
    priority: str | None = None
    form_key: str | None = None
    lane_id: str | None = None
    lane_name: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


class OpsflowUserTask(SpiffBpmnTask, CamundaUserTask):
    """A Camunda user task that also knows its assignment attributes and its start/end scripts.

    Inline-script `camunda:executionListener`s become SpiffWorkflow's pre-script (event "start": runs
    when the task becomes ready) and post-script (event "end": runs when it completes).
    """

    def __init__(self, wf_spec, name, form, assignment: Assignment | None = None,  # type: ignore[no-untyped-def]
                 prescript: str | None = None, postscript: str | None = None, **kwargs):
        super().__init__(wf_spec, name, prescript=prescript, postscript=postscript, form=form, **kwargs)
        self.assignment = assignment or Assignment()
