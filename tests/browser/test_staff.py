"""Staff in the browser: the service desk records a request, the first-line engineer works it."""

from __future__ import annotations

import re
import uuid

from tests.browser.conftest import BrowserPage


def start_service_request(desk: BrowserPage, business_key: str) -> None:
    page = desk.page
    desk.goto("/start")
    page.click("a.procedure[data-key=service_request]")
    page.fill("#f-business_key", business_key)
    page.select_option("#f-request_channel", "hotline")
    page.fill("#f-customer_name", "青岛某银行")
    page.fill("#f-customer_contact", "李工 13800000000")
    page.select_option("#f-service_level", "gold")
    page.select_option("#f-request_category", "fault")
    page.fill("#f-request_summary", "邮件系统无法发信")
    page.fill("#f-request_content", "全行邮件无法外发")
    page.select_option("#f-impact", "high")
    page.select_option("#f-urgency", "high")
    page.click("button.start")
    page.wait_for_load_state()


def test_the_desk_starts_a_request_and_the_engineer_completes_it_after_one_refusal(browser_page) -> None:
    business_key = f"SR-{uuid.uuid4().hex[:8]}"
    desk = browser_page().login("desk1")
    start_service_request(desk, business_key)
    assert "/cases/" in desk.page.url
    assert desk.page.locator(".flash-success").count() == 1
    assert desk.page.locator("[data-diagram][data-state=shown]").count() == 1 or \
        desk.page.wait_for_selector("[data-diagram][data-state=shown]")
    assert not desk.errors

    engineer = browser_page().login("l1eng1")
    page = engineer.page
    engineer.goto("/inbox?tab=candidate")
    page.fill("input[name=q]", business_key)
    page.click("form.filters button[type=submit]")
    row = page.locator("tr[data-element-id=assess_request]")
    assert row.count() == 1
    engineer.screenshot("inbox")
    row.locator("button.claim").click()
    page.wait_for_load_state()
    assert page.locator(".flash-success").count() == 1
    assert page.locator("tr[data-element-id=assess_request]").count() == 0  # no longer offered: it is mine
    page.click("[data-tab=mine]")
    page.fill("input[name=q]", business_key)
    page.click("form.filters button[type=submit]")
    page.locator("tr[data-element-id=assess_request] a.task-link").click()
    page.wait_for_load_state()

    # the form: leave the required handling plan empty, and see the server's message beside it
    page.select_option("#f-problem_type", "software")
    page.select_option("#f-severity", "critical")
    page.fill("#f-impact_scope", "全行邮件")
    page.click("button.complete")
    page.wait_for_load_state()
    error = page.locator(".field[data-field=handling_plan] .field-error")
    assert error.count() == 1 and error.inner_text().strip()
    assert page.locator("#f-impact_scope").input_value() == "全行邮件"  # nothing typed is lost
    assert page.locator("[data-diagram]").get_attribute("data-state") in (None, "shown")
    page.wait_for_selector("[data-diagram][data-state=shown]")
    engineer.screenshot("task")

    page.fill("#f-handling_plan", "重启邮件网关并检查证书")
    page.click("button.complete")
    page.wait_for_load_state()
    assert page.locator(".flash-success").count() == 1
    assert re.search(r"/tasks/|/inbox", page.url)
    assert not engineer.errors


def test_the_staff_pages_fit_a_tablet(browser_page) -> None:
    """At 768 px nothing but a table's own scroll box may be wider than the screen."""
    desk = browser_page(width=768, height=1024).login("desk1")
    start_service_request(desk, f"SR-{uuid.uuid4().hex[:8]}")
    case_url = desk.page.url
    for path in ("/inbox?tab=candidate", "/start", "/start/service_request", "/cases", case_url):
        desk.page.goto(path if path.startswith("http") else desk.base_url + path)
        overflow = desk.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than a tablet"
    desk.screenshot("case-tablet")
    assert not desk.errors
