"""The process editor in Chromium: edit a task name, save a new version, conflicts, problems at elements."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import BrowserPage

TASK = "plan_drill"
PROCESS = "emergency_drill"


def unexpected(errors: list[str], *statuses: int) -> list[str]:
    """The page's errors without the API refusals the test provoked on purpose (deploy or validate answers)."""
    codes = "|".join(map(str, statuses)) or "none"
    expected = re.compile(rf"^({codes}) for fetch \S+/api/process-definitions(/validate)?$")
    return [e for e in errors if not expected.match(e)]


def _open_editor(page: BrowserPage, key: str = PROCESS) -> dict[str, Any]:
    page.goto(f"/editor/{key}")
    page.page.wait_for_selector("#editor-canvas[data-state=shown]")
    result: dict[str, Any] = page.page.evaluate("window.opsflowEditor.lastImport()")
    assert result["ok"] and result["error"] is None, result
    return result


def _versions(page: BrowserPage, key: str = PROCESS) -> list[int]:
    page.goto(f"/editor/{key}/versions")
    return [int(v) for v in page.page.locator("#version-list tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.version)")]


def _rename_in_panel(page: BrowserPage, element_id: str, name: str) -> None:
    """Select the task on the canvas and type its new name into the properties panel."""
    page.page.click(f'.djs-element[data-element-id="{element_id}"]')
    field = page.page.locator("#bio-properties-panel-name")
    field.wait_for(state="attached")
    if not field.is_visible():  # the General group starts folded
        page.page.click('[data-group-id="group-general"] .bio-properties-panel-group-header')
    field.wait_for()
    field.fill(name)
    page.page.wait_for_function(
        f"window.opsflowEditor.modeler.get('elementRegistry').get('{element_id}').businessObject.name === {name!r}")


def test_owner_renames_a_task_saves_a_new_version_and_the_list_grows(browser_page: Any) -> None:
    page = browser_page().login("owner1")
    before = _versions(page)
    _open_editor(page)
    assert page.page.evaluate("window.opsflowEditor.config.latestVersion") == before[0]
    _rename_in_panel(page, TASK, "制定演练方案（新） / Plan the drill (new)")
    assert page.page.get_attribute("#editor-dirty", "data-dirty") == "true"
    page.screenshot("editor-renamed-task")
    page.page.click("#editor-save")
    page.page.wait_for_selector("#editor-status[data-kind=success]")
    status = page.page.text_content("#editor-status") or ""
    assert f"Saved as version {before[0] + 1}" in status
    assert page.page.get_attribute("#editor-dirty", "data-dirty") == "false"
    page.screenshot("editor-saved")
    after = _versions(page)
    assert after == [before[0] + 1, *before]
    first_row = page.page.locator("#version-list tbody tr").first
    assert "owner1" in (first_row.text_content() or "")
    page.screenshot("editor-versions")
    page.page.click(f'#version-list tr[data-version="{after[0]}"] >> text=Compare with version {before[0]}')
    page.page.wait_for_selector('.compare-diagram[data-side="2"][data-state=shown]')
    page.page.wait_for_selector('.compare-diagram[data-side="1"][data-state=shown]')
    assert page.page.locator(f'.compare-diagram .of-highlight[data-element-id="{TASK}"]').count() == 2
    page.screenshot("editor-compare")
    assert page.errors == []


def test_a_save_after_someone_else_deployed_is_refused_with_who_and_a_reload(browser_page: Any) -> None:
    first, second = browser_page().login("owner1"), browser_page().login("admin")
    _open_editor(first)
    _open_editor(second)
    opened = second.page.evaluate("window.opsflowEditor.config.latestVersion")
    _rename_in_panel(first, TASK, "方案A / Plan A")
    first.page.click("#editor-save")
    first.page.wait_for_selector("#editor-status[data-kind=success]")
    _rename_in_panel(second, TASK, "方案B / Plan B")
    second.page.click("#editor-save")
    second.page.wait_for_selector("#editor-status[data-kind=error]")
    text = second.page.text_content("#editor-status") or ""
    assert f"Another owner deployed version {opened + 1}" in text and "owner1" in text
    assert f"after you opened version {opened}" in text
    assert second.page.get_attribute("#editor-dirty", "data-dirty") == "true"
    second.screenshot("editor-conflict")
    second.page.click("#editor-status .conflict-reload")
    second.page.wait_for_selector("#editor-canvas[data-state=shown]")
    assert second.page.evaluate("window.opsflowEditor.config.version") == opened + 1
    assert second.page.evaluate(f"window.opsflowEditor.modeler.get('elementRegistry').get('{TASK}')"
                                ".businessObject.name") == "方案A / Plan A"
    assert first.errors == [] and unexpected(second.errors, 412) == []


@pytest.mark.parametrize(("locale", "says"), [("en-US", "The form “no_such_form” does not exist in forms/."),
                                               ("zh-CN", "表单“no_such_form”在 forms/ 中不存在。")])
def test_server_problems_are_listed_and_marked_at_their_element(browser_page: Any, locale: str, says: str) -> None:
    page = browser_page(locale=locale).login("owner1")
    _open_editor(page, "change_request")
    element_id = page.page.evaluate("""() => {
        const registry = window.opsflowEditor.modeler.get('elementRegistry');
        const task = registry.filter(e => e.type === 'bpmn:UserTask')[0];
        window.opsflowEditor.modeler.get('modeling').updateProperties(task, {'camunda:formKey': 'no_such_form'});
        return task.id;
    }""")
    page.page.click("#editor-check")
    page.page.wait_for_selector("#editor-problems:not([hidden]) li.problem")
    item = page.page.locator(f'#editor-problems li.problem[data-element-id="{element_id}"]')
    assert says in (item.text_content() or "")  # the page's language (the API's detail stays English)
    title = page.page.text_content("#editor-problems .editor-problems-title") or ""
    assert title == {"en-US": "The diagram cannot be deployed:", "zh-CN": "流程图无法部署："}[locale]
    assert page.page.locator(f'.djs-element.of-problem[data-element-id="{element_id}"]').count() == 1
    assert page.page.locator(".problem-badge").count() >= 1
    page.page.evaluate("window.opsflowEditor.modeler.get('selection').select(null)")
    item.locator("button.problem-target").click()
    selected = page.page.evaluate("window.opsflowEditor.modeler.get('selection').get().map(e => e.id)")
    assert selected == [element_id]
    page.screenshot(f"editor-problems-{locale}")
    assert unexpected(page.errors, 422) == []


def test_download_saves_the_current_xml_and_leaving_with_changes_warns(browser_page: Any) -> None:
    page = browser_page().login("owner1")
    _open_editor(page)
    _rename_in_panel(page, TASK, "下载测试 / Download test")
    with page.page.expect_download() as download:
        page.page.click("#editor-download")
    saved = download.value
    assert saved.suggested_filename == f"{PROCESS}.bpmn"
    assert "下载测试 / Download test" in Path(saved.path()).read_text(encoding="utf-8")
    seen: list[str] = []
    page.page.on("dialog", lambda dialog: (seen.append(dialog.type), dialog.accept()))
    page.goto("/editor")
    assert seen == ["beforeunload"]
    assert page.errors == []


def test_chinese_editor_at_tablet_width_stacks_the_panel_under_the_canvas(browser_page: Any) -> None:
    page = browser_page(locale="zh-CN", width=820, height=1180).login("owner1")
    _open_editor(page, "service_request")
    assert "另存为新版本" in (page.page.text_content("#editor-save") or "")
    canvas = page.page.locator("#editor-canvas").bounding_box()
    panel = page.page.locator("#editor-properties").bounding_box()
    assert canvas and panel and panel["y"] >= canvas["y"] + canvas["height"] - 1
    assert page.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot("editor-tablet-zh")
    wide = browser_page(width=1366, height=900).login("owner1")
    _open_editor(wide, "service_request")
    canvas = wide.page.locator("#editor-canvas").bounding_box()
    panel = wide.page.locator("#editor-properties").bounding_box()
    assert canvas and panel and panel["x"] >= canvas["x"] + canvas["width"] - 1
    wide.screenshot("editor-laptop")
    assert re.search(r"/editor/service_request$", wide.page.url)
    assert page.errors == [] and wide.errors == []
