"""Task-spec extensions: Camunda 7 assignment attributes on user tasks."""

from __future__ import annotations

from dataclasses import dataclass, field

from SpiffWorkflow.camunda.specs.user_task import UserTask as CamundaUserTask


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


class OpsflowUserTask(CamundaUserTask):
    """A Camunda user task that also knows its assignment attributes."""

    def __init__(self, wf_spec, name, form, assignment: Assignment | None = None, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(wf_spec, name, form, **kwargs)
        self.assignment = assignment or Assignment()
