"""The pages speak Chinese or English: the browser's language by default, the user's choice remembered."""

from __future__ import annotations


def test_the_default_follows_the_browser(browser_page) -> None:
    chinese = browser_page(locale="zh-CN")
    chinese.goto("/login")
    assert chinese.page.locator("h1").inner_text() == "登录 opsflow"
    english = browser_page(locale="en-US")
    english.goto("/login")
    assert english.page.locator("h1").inner_text() == "Sign in to opsflow"


def test_switching_to_chinese_shows_chinese_labels_and_is_remembered(browser_page) -> None:
    visitor = browser_page(locale="en-US")
    visitor.goto("/login")
    visitor.page.click("button[data-language=zh]")
    visitor.page.wait_for_load_state()
    assert visitor.page.locator("h1").inner_text() == "登录 opsflow"
    visitor.login("store1")
    nav = visitor.page.locator("nav.nav").inner_text()
    assert "待办" in nav and "发起申请" in nav
    visitor.goto("/start/procurement_request")
    labels = visitor.page.locator(".start-form label").all_inner_texts()
    assert any("申请" in label or "物品" in label for label in labels), labels
    assert visitor.page.locator("button.start").inner_text() == "发起"
    visitor.screenshot("start-form-zh")

    again = browser_page(locale="en-US")  # another browser, English by default: the stored choice wins
    again.login("store1")
    assert "待办" in again.page.locator("nav.nav").inner_text()
    again.page.click("button[data-language=en]")
    again.page.wait_for_load_state()
    assert "Inbox" in again.page.locator("nav.nav").inner_text()
    assert not visitor.errors and not again.errors
