"""As an auditor in a real browser: filter the trail, verify it, download the filtered CSV; a case's history
on its diagram; the page at tablet width."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from tests.api.conftest import PASSWORD
from tests.web.test_audit_pages import REQUEST

LOCAL = ZoneInfo("Asia/Shanghai")


def _call(base_url: str, path: str, body: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base_url + path, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def start_case(base_url: str) -> dict[str, Any]:
    """desk1 records a service request through the API; the customer name makes it unique."""
    token = _call(base_url, "/api/auth/tokens", {"username": "desk1", "password": PASSWORD})["token"]
    data = {**REQUEST, "customer_name": f"审计测试 {uuid.uuid4().hex[:6]}"}
    return _call(base_url, "/api/process-definitions/service_request/instances", {"data": data}, token)  # type: ignore[no-any-return]


def shown_rows(page: Any) -> list[tuple[int, str]]:
    return [(int(i), t) for i, t in page.eval_on_selector_all(
        "table.audit-events tbody tr", "rows => rows.map(r => [r.dataset.eventId, r.dataset.type])")]


def test_as_auditor_filter_the_history_verify_the_trail_download_the_csv(browser_page: Any, live_server: str,
                                                                       tmp_path: Path) -> None:
    case = start_case(live_server)
    auditor = browser_page().login("auditor1")
    page = auditor.page
    auditor.goto("/audit")
    assert page.locator("h1").inner_text() == "Audit trail"

    page.select_option("#f-key", "service_request")
    page.fill("#f-case", case["id"])
    page.fill("#f-actor", "desk1")
    page.fill("#f-from", (datetime.now(UTC) - timedelta(hours=1)).astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M"))
    page.click("button[data-action=filter]")
    page.wait_for_load_state()
    query = parse_qs(urlsplit(page.url).query)
    assert query["instance_id"] == [case["id"]] and query["actor"] == ["desk1"] and query["key"] == ["service_request"]
    rows = shown_rows(page)
    assert ("instance_started" in {t for _, t in rows}) and rows == sorted(rows)
    assert page.locator("table.audit-events tbody td:nth-child(4)").all_inner_texts() == ["desk1"] * len(rows)
    page.locator("tr[data-type=instance_started] details.event-data summary").click()
    assert "审计测试" in page.locator("tr[data-type=instance_started] details.event-data pre").inner_text()
    auditor.screenshot("audit")

    page.click("button[data-action=verify]")
    page.wait_for_load_state()
    result = page.locator(".verify-result")
    assert result.get_attribute("data-ok") == "true"
    assert "events checked" in result.inner_text()
    page.go_back()
    page.wait_for_load_state()
    assert shown_rows(page) == rows

    with page.expect_download() as download:
        page.click("a[data-export=csv]")
    target = tmp_path / "trail.csv"
    download.value.save_as(target)
    assert download.value.suggested_filename.endswith(".csv")
    records = list(csv.DictReader(io.StringIO(target.read_text("utf-8"))))
    assert [(int(r["id"]), r["type"]) for r in records] == rows
    assert {(r["actor"], r["instance_id"], r["process_key"]) for r in records} == {("desk1", case["id"],
                                                                                    "service_request")}
    assert auditor.errors == []


def test_a_cases_history_shows_its_diagram_version(browser_page: Any, live_server: str) -> None:
    case = start_case(live_server)
    auditor = browser_page(locale="zh-CN").login("auditor1")
    auditor.goto(f"/audit/cases/{case['id']}")
    page = auditor.page
    assert page.locator("h1").inner_text().startswith("案件历史")
    page.wait_for_selector("[data-diagram][data-state=shown]", timeout=15000)
    assert page.locator(".djs-element.of-active").count() >= 1  # the waiting task is marked on the diagram
    assert page.locator("ol.case-events li[data-type=instance_started]").count() == 1
    assert auditor.errors == []


def test_the_audit_page_fits_a_tablet(browser_page: Any) -> None:
    auditor = browser_page(width=800, height=1100).login("auditor1")
    auditor.goto("/audit")
    page = auditor.page
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    for selector in ("#f-key", "#f-case", "#f-actor", "#f-type", "#f-from", "#f-to", "button[data-action=filter]",
                     "a[data-export=csv]", "button[data-action=verify]"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 800, selector
    assert auditor.errors == []
