"""Deploy problems in the page's language (api/web/refusals.py): every reason the engine gives has its text,
and a problem that cannot be said in full is shown as the engine words it, never with a hole in it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import Flask

from api.web.refusals import model_problem_templates, model_problem_text, translated_problem
from engine.errors import ModelProblem
from engine.runtime import findings
from engine.runtime.parser import UNSUPPORTED_ELEMENTS

ENGINE = Path(__file__).resolve().parents[2] / "engine"


def _emitted_reasons() -> tuple[set[str], list[str]]:
    """The reasons engine/ gives its ModelProblems, read from the source; and the calls that give none."""
    reasons: set[str] = {f"unsupported_{local}" for local in UNSUPPORTED_ELEMENTS} | set(findings.REASONS)
    without: list[str] = []
    for path in ENGINE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ModelProblem"):
                continue
            reason = next((k.value for k in node.keywords if k.arg == "reason"), None)
            if reason is None:
                without.append(f"{path.name}:{node.lineno}")
                continue
            reasons.update(c.value for c in ast.walk(reason) if isinstance(c, ast.Constant) and isinstance(c.value, str))
    reasons.discard("unsupported_")  # the f-string's constant part, covered by UNSUPPORTED_ELEMENTS above
    return reasons, without


def test_every_reason_the_engine_gives_has_a_text(site: Flask) -> None:
    reasons, without = _emitted_reasons()
    assert {"form_missing", "not_executable", "no_process", "timer_not_evaluable", "file_unreadable",
            "script_cannot_run_line", "no_start_event", "xsd_attribute_not_allowed"} <= reasons
    # every ModelProblem is given a reason (SpiffWorkflow's findings theirs from engine/runtime/findings.py,
    # None only for a finding no pattern there knows)
    assert without == []
    for language in ("en", "zh"):
        with site.test_request_context(headers={"Accept-Language": language}):
            assert reasons - set(model_problem_templates()) == set(), language


@pytest.mark.parametrize(("problem", "says"), [
    (ModelProblem("form 'x' does not exist in forms/", reason="form_missing", params={"form": "x"}),
     "表单“x”在 forms/ 中不存在。"),
    (ModelProblem("the script (line 2) cannot run: syntax error", reason="script_cannot_run_line",
                  params={"line": 2, "detail": "syntax error", "juel": False}),
     "脚本无法运行（第 2 行）：syntax error"),
    # a reason whose params are missing or empty, a reason without a text, SpiffWorkflow's own finding: as worded
    (ModelProblem("form 'x' does not exist in forms/", reason="form_missing"), "form 'x' does not exist in forms/"),
    (ModelProblem("not well-formed", reason="xml_malformed", params={"detail": None}), "not well-formed"),
    (ModelProblem("something new", reason="a_reason_with_no_text"), "something new"),
    (ModelProblem("Invalid BPMN: no start event"), "Invalid BPMN: no start event"),
    (ModelProblem("No start event found", reason="no_start_event", params={}), "流程没有开始事件。"),
    (ModelProblem("Element 'userTask', attribute 'priority': The attribute 'priority' is not allowed.",
                  reason="xsd_attribute_not_allowed", params={"element": "userTask", "attribute": "priority"}),
     "BPMN 2.0 架构不允许 <userTask> 带有属性 priority。"),
])
def test_a_problem_is_said_in_the_pages_language_only_when_it_can_be_said_whole(site: Flask, problem: ModelProblem,
                                                                                says: str) -> None:
    with site.test_request_context(headers={"Accept-Language": "zh"}):
        assert model_problem_text(problem) == says
        assert (translated_problem(problem) is None) == (says == problem.message)
