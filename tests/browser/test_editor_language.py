"""The editor's bpmn-js parts (palette, context pad, replace menu, properties panel) speak the page's language."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.browser.conftest import BrowserPage

PROCESS = "service_request"
USER_TASK = "customer_callback"  # candidate groups and a due date
CJK = re.compile(r"[\u4e00-\u9fff]")
ASSIGNMENT = '[data-group-id="group-CamundaPlatform__UserAssignment"]'


def _page_language(page: BrowserPage) -> str:
    return "zh" if (page.page.get_attribute("html", "lang") or "").startswith("zh") else "en"


def _choose_language(page: BrowserPage, language: str) -> None:
    page.page.click(f"button[data-language={language}]")
    page.page.wait_for_load_state()
    assert _page_language(page) == language


@contextmanager
def _editor(browser_page: Any, language: str) -> Iterator[BrowserPage]:
    """owner1 on the editor of service_request in that language.

    The browser's locale asks for the language; a choice stored on owner1 by another test (the server is
    shared) would win, so the page's language button is clicked when the page came out otherwise, and the
    earlier choice is put back afterwards. owner1 who never chose keeps following the browser (other tests
    count on that), which is why the button is not clicked when it is not needed.
    """
    page = browser_page(locale="zh-CN" if language == "zh" else "en-US").login("owner1")
    before = _page_language(page)
    if before != language:
        _choose_language(page, language)
    try:
        page.goto(f"/editor/{PROCESS}")
        page.page.wait_for_selector("#editor-canvas[data-state=shown]")
        yield page
    finally:
        if before != language:
            _choose_language(page, before)


def _palette_titles(page: BrowserPage) -> dict[str, str]:
    """Each palette entry's text by its action: diagram-js 15+ puts it in aria-label (older ones: title)."""
    return page.page.eval_on_selector_all(
        ".djs-palette .entry[data-action]",
        "entries => Object.fromEntries(entries.map(e => [e.dataset.action, e.title || e.getAttribute('aria-label')]))")


def _select(page: BrowserPage, element_id: str) -> None:
    page.page.click(f'.djs-element[data-element-id="{element_id}"]')
    page.page.wait_for_selector(".djs-context-pad .entry[title]")
    page.page.wait_for_selector(ASSIGNMENT)
    if not page.page.is_visible("#bio-properties-panel-assignee"):  # groups start folded
        page.page.click(f"{ASSIGNMENT} .bio-properties-panel-group-header")
    page.page.wait_for_selector("#bio-properties-panel-assignee")


def _panel(page: BrowserPage) -> dict[str, Any]:
    return page.page.evaluate("""() => {
        const text = (selector) => document.querySelector(selector)?.textContent.trim();
        const label = (id) => text(`label[for="bio-properties-panel-${id}"]`);
        return {
            type: text('.bio-properties-panel-header-type'),
            groups: [...document.querySelectorAll('.bio-properties-panel-group-header-title')]
                .map(e => e.textContent.trim()),
            assignment: text('[data-group-id="group-CamundaPlatform__UserAssignment"] '
                             + '.bio-properties-panel-group-header-title'),
            assignee: label('assignee'), candidateGroups: label('candidateGroups'), dueDate: label('dueDate'),
            name: label('name'),
            toggle: document.querySelector('[data-group-id="group-CamundaPlatform__UserAssignment"] '
                                           + '.bio-properties-panel-arrow')?.title,
        };
    }""")


def _context_pad(page: BrowserPage) -> dict[str, str]:
    return page.page.eval_on_selector_all(
        ".djs-context-pad .entry[title]", "entries => Object.fromEntries(entries.map(e => [e.dataset.action, e.title]))")


def _replace_menu(page: BrowserPage) -> list[str]:
    page.page.click('.djs-context-pad .entry[data-action="replace"]')
    page.page.wait_for_selector(".djs-popup .entry")
    labels: list[str] = page.page.eval_on_selector_all(
        ".djs-popup .entry", "entries => entries.map(e => e.textContent.trim() || e.title).filter(Boolean)")
    page.page.keyboard.press("Escape")
    return labels


def test_the_chinese_editor_shows_bpmn_js_in_chinese(browser_page: Any) -> None:
    with _editor(browser_page, "zh") as page:
        assert page.page.get_attribute("html", "lang") == "zh-CN"
        palette = _palette_titles(page)
        assert len(palette) >= 10, palette
        assert all(CJK.search(title) for title in palette.values()), palette
        assert palette["create.start-event"] == "创建开始事件"
        assert palette["create.end-event"] == "创建结束事件"
        assert palette["create.task"] == "创建任务"
        assert palette["create.exclusive-gateway"] == "创建网关"
        assert palette["hand-tool"] == "激活抓手工具"

        _select(page, USER_TASK)
        panel = _panel(page)
        assert panel["type"] == "用户任务"
        assert panel["assignment"] == "用户分配"
        assert (panel["assignee"], panel["candidateGroups"], panel["dueDate"]) == ("处理人", "候选组", "截止时间")
        assert {"常规", "文档", "用户分配", "表单", "执行监听器", "扩展属性"} <= set(panel["groups"]), panel
        assert all(CJK.search(group) for group in panel["groups"]), panel
        assert panel["toggle"] == "展开/折叠"  # @bpmn-io/properties-panel's own buttons too

        pad = _context_pad(page)
        assert pad["append.end-event"] == "追加结束事件"
        assert pad["append.gateway"] == "追加网关"
        assert pad["replace"] == "更改元素类型"
        assert pad["delete"] == "删除"
        assert all(CJK.search(title) for title in pad.values()), pad
        page.screenshot("editor-zh-properties")

        menu = _replace_menu(page)
        assert {"服务任务", "脚本任务", "业务规则任务", "调用活动"} <= set(menu), menu
        assert page.errors == []


def test_the_english_editor_keeps_bpmn_js_english(browser_page: Any) -> None:
    with _editor(browser_page, "en") as page:
        assert page.page.get_attribute("html", "lang") == "en"
        palette = _palette_titles(page)
        assert palette["create.start-event"] == "Create start event"
        assert palette["create.task"] == "Create task"
        assert not any(CJK.search(title) for title in palette.values()), palette

        _select(page, USER_TASK)
        panel = _panel(page)
        assert panel["type"] == "User Task"
        assert panel["assignment"] == "User assignment"
        assert (panel["assignee"], panel["candidateGroups"], panel["dueDate"]) == (
            "Assignee", "Candidate groups", "Due date")
        assert not any(CJK.search(group) for group in panel["groups"]), panel
        assert panel["toggle"] == "Toggle section"

        pad = _context_pad(page)
        assert pad["append.end-event"] == "Append end event"
        assert pad["replace"] == "Change element"
        assert {"Service task", "Call activity"} <= set(_replace_menu(page))
        assert page.errors == []
