"""The audit pages: the filtered trail and its exports, a case's history, verifying the chain; auditors and admins only."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import text

from engine.views import InstanceView
from tests.web.conftest import Pages

LOCAL = ZoneInfo("Asia/Shanghai")  # the pages' time zone (BABEL_DEFAULT_TIMEZONE)
REQUEST = dict(request_channel="hotline", customer_name="青岛某银行", customer_contact="李工 13800000000",
               service_level="gold", request_category="fault", request_summary="邮件系统无法发信",
               request_content="全行邮件无法外发", impact="high", urgency="high")
ROW = re.compile(r'<tr id="event-(\d+)" data-event-id="\d+" data-type="([a-z_]+)"')


def start_case(site: Flask, username: str = "desk1", **overrides: Any) -> InstanceView:
    services = site.extensions["opsflow"]
    return services.engine.instances.start("service_request", {**REQUEST, **overrides},
                                           services.identity.actor_for(username))


def rows(response: Any) -> list[tuple[int, str]]:
    return [(int(i), t) for i, t in ROW.findall(response.get_data(as_text=True))]


def trail(site: Flask, **filters: Any) -> list[tuple[int, str]]:
    """What the engine itself says matches (every page)."""
    services = site.extensions["opsflow"]
    events = services.engine.trail.stream(services.identity.actor_for("auditor1"), **filters)
    return [(e.id, e.type) for e in events]


def export_href(response: Any, fmt: str) -> str:
    found = re.search(rf'href="([^"]+)" data-export="{fmt}"', response.get_data(as_text=True))
    assert found, f"no {fmt} export link"
    return html.unescape(found.group(1))


def local_input(moment: datetime) -> str:
    return moment.astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M")


def in_english(client: Pages) -> Pages:
    """Without a choice the pages follow the browser, and a client without Accept-Language gets Chinese."""
    client.post("/language", {"language": "en", "next": "/audit"})
    return client


def tamper(site: Flask, statement: str, **params: Any) -> None:
    """Raw SQL behind the engine's back, as in tests/unit/test_audit.py (SQLite here)."""
    with site.extensions["opsflow"].engine.db.write_engine.begin() as conn:
        conn.execute(text(statement), params)


# -- who may open the pages ---------------------------------------------------------------------------------

def test_anonymous_visitors_are_sent_to_the_login_page(site: Flask, pages: Pages) -> None:
    case = start_case(site)
    for path in ("/audit", f"/audit/cases/{case.id}", "/audit?type=task_completed"):
        response = pages.get(path)
        assert response.status_code == 302
        assert urlsplit(response.headers["Location"]).path == "/login"
    assert pages.post("/audit/verify").status_code == 302


@pytest.mark.parametrize("username", ["desk1", "owner1", "l1eng1"])
def test_other_roles_get_403(site: Flask, as_user: Any, username: str) -> None:
    case = start_case(site)
    client = as_user(username)
    for path in ("/audit", f"/audit/cases/{case.id}"):
        response = client.get(path)
        assert response.status_code == 403 and response.mimetype == "text/html"
        assert 'data-status="403"' in response.get_data(as_text=True)
    assert client.post("/audit/verify").status_code == 403
    assert 'data-area="audit"' not in client.get("/inbox").get_data(as_text=True)


@pytest.mark.parametrize("username", ["auditor1", "admin"])
def test_auditors_and_admins_open_the_trail(site: Flask, as_user: Any, username: str) -> None:
    case = start_case(site)
    client = as_user(username)
    page = client.get("/audit")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'data-area="audit"' in body and 'class="active" data-area="audit"' in body
    assert client.get(f"/audit/cases/{case.id}").status_code == 200
    assert client.post("/audit/verify").status_code == 200


def test_verify_without_the_csrf_token_is_refused(as_user: Any) -> None:
    response = as_user("auditor1").post("/audit/verify", csrf=False)
    assert response.status_code == 400
    assert "data-ok" not in response.get_data(as_text=True)


# -- filters ------------------------------------------------------------------------------------------------

def test_filter_by_case_person_type_and_procedure(site: Flask, as_user: Any) -> None:
    first, second = start_case(site), start_case(site, customer_name="另一家客户")
    client = as_user("auditor1")

    by_case = rows(client.get(f"/audit?instance_id={first.id}"))
    assert by_case == trail(site, instance_id=first.id)
    assert by_case and ("instance_started" in {t for _, t in by_case})
    assert not set(by_case) & set(trail(site, instance_id=second.id))

    started = rows(client.get("/audit?actor=desk1&type=instance_started"))
    assert {t for _, t in started} == {"instance_started"}
    assert len(started) == 2 == len(trail(site, user="desk1", type="instance_started"))

    logins = rows(client.get("/audit?actor=auditor1&type=token_created"))
    assert logins and {t for _, t in logins} == {"token_created"}

    by_key = rows(client.get("/audit?key=service_request"))
    assert by_key == trail(site, process_key="service_request")
    assert all(t != "user_created" for _, t in by_key)
    deployed = rows(client.get("/audit?key=change_request&type=definition_deployed"))
    assert [t for _, t in deployed] == ["definition_deployed"]

    page = client.get(f"/audit?instance_id={first.id}&type=instance_started").get_data(as_text=True)
    assert f'name="instance_id" value="{first.id}"' in page  # the filter is shown as typed
    assert '<option value="instance_started" selected>' in page


def test_filter_by_time_in_the_pages_time_zone(site: Flask, as_user: Any) -> None:
    case = start_case(site)
    client = as_user("auditor1")
    now = datetime.now(UTC)
    before, after = local_input(now - timedelta(hours=1)), local_input(now + timedelta(hours=1))

    since = rows(client.get(f"/audit?instance_id={case.id}&from={before}"))
    assert since == trail(site, instance_id=case.id) and since
    assert rows(client.get(f"/audit?instance_id={case.id}&from={after}")) == []
    assert rows(client.get(f"/audit?instance_id={case.id}&to={before}")) == []
    assert rows(client.get(f"/audit?instance_id={case.id}&from={before}&to={after}")) == since
    # an hour after now in Shanghai is in the future; read as UTC it would be 7 hours ago and match
    response = client.get(f"/audit?from={after}")
    assert rows(response) == []
    assert f'value="{after}"' in response.get_data(as_text=True)
    assert "Asia/Shanghai" in response.get_data(as_text=True)


def test_a_bad_filter_is_shown_beside_its_field(as_user: Any) -> None:
    response = as_user("auditor1").get("/audit?from=yesterday&type=made_up&actor=desk1")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert re.search(r'has-error">\s*<label for="f-from">', body)
    assert re.search(r'has-error">\s*<label for="f-type">', body)
    assert 'value="yesterday"' in body and 'value="desk1"' in body  # nothing typed is lost
    assert ROW.search(body) is None


def test_paging_keeps_the_filter(site: Flask, as_user: Any) -> None:
    for _ in range(26):  # two events each
        start_case(site)
    client = as_user("auditor1")
    expected = trail(site, process_key="service_request")
    assert len(expected) > 50
    first = client.get("/audit?key=service_request")
    assert rows(first) == expected[:50]
    next_link = re.search(r'href="([^"]+)" rel="next"', first.get_data(as_text=True))
    assert next_link
    href = html.unescape(next_link.group(1))
    assert parse_qs(urlsplit(href).query) == {"key": ["service_request"], "page": ["2"]}
    assert rows(client.get(href)) == expected[50:100]


def test_the_exports_carry_the_current_filter(site: Flask, as_user: Any) -> None:
    case = start_case(site)
    client = as_user("auditor1")
    since = local_input(datetime.now(UTC) - timedelta(hours=2))
    page = client.get(f"/audit?instance_id={case.id}&actor=desk1&from={since}")
    shown = rows(page)
    assert shown

    csv_href = export_href(page, "csv")
    params = parse_qs(urlsplit(csv_href).query)
    assert urlsplit(csv_href).path == "/api/audit/export"
    assert params["instance_id"] == [case.id] and params["actor"] == ["desk1"] and params["format"] == ["csv"]
    assert datetime.fromisoformat(params["from"][0]) == datetime.fromisoformat(since).replace(tzinfo=LOCAL)
    download = client.get(csv_href)
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    records = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert [(int(r["id"]), r["type"]) for r in records] == shown
    assert {r["actor"] for r in records} == {"desk1"} and {r["instance_id"] for r in records} == {case.id}

    as_json = client.get(export_href(page, "json"))
    assert as_json.mimetype == "application/json"
    assert [(e["id"], e["type"]) for e in json.loads(as_json.get_data(as_text=True))] == shown


# -- a case's history ---------------------------------------------------------------------------------------

def test_a_cases_history_with_its_diagram_version(site: Flask, as_user: Any) -> None:
    case = start_case(site)
    client = as_user("auditor1")
    response = client.get(f"/audit/cases/{case.id}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    definition = site.extensions["opsflow"].engine.definitions.get("service_request", case.version)
    assert f'data-version="{case.version}"' in body and definition.deployed_by in body
    assert "<code>service_request</code>" in body and "desk1" in body
    events = [int(i) for i in re.findall(r'<li id="event-(\d+)"', body)]
    assert events == [i for i, _ in trail(site, instance_id=case.id)]
    assert "全行邮件无法外发" in body  # the submitted data is shown

    diagram = re.search(r'data-xml-url="([^"]+)" data-marks=\'([^\']+)\'', body)
    assert diagram
    xml_url, marks = html.unescape(diagram.group(1)), json.loads(html.unescape(diagram.group(2)))
    assert xml_url == f"/api/process-definitions/service_request/xml?version={case.version}"
    assert marks["active"] == case.active_element_ids and marks["active"]
    assert 'src="/assets/build/viewer.js"' in body
    xml = client.get(xml_url)
    assert xml.status_code == 200 and b'id="service_request"' in xml.data


def test_an_unknown_case_is_a_404_page(as_user: Any) -> None:
    response = as_user("auditor1").get("/audit/cases/no-such-case")
    assert response.status_code == 404 and 'data-status="404"' in response.get_data(as_text=True)


def test_data_from_a_case_is_escaped(site: Flask, as_user: Any) -> None:
    case = start_case(site, customer_name="<script>alert('x')</script>", request_summary="<b>bold</b>")
    client = as_user("auditor1")
    for path in (f"/audit?instance_id={case.id}", f"/audit/cases/{case.id}"):
        body = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in body and "<b>bold</b>" not in body
        assert "&lt;script&gt;alert(" in body


# -- verifying the trail ------------------------------------------------------------------------------------

def test_verify_reports_an_intact_trail_then_the_altered_event(site: Flask, as_user: Any) -> None:
    case = start_case(site)
    client = in_english(as_user("auditor1"))
    intact = client.post("/audit/verify")
    body = intact.get_data(as_text=True)
    assert intact.status_code == 200 and 'data-ok="true"' in body
    checked = site.extensions["opsflow"].engine.trail.verify(site.extensions["opsflow"].identity.actor_for("admin"))
    assert checked.ok and f"{checked.checked} events checked" in body

    target = trail(site, instance_id=case.id)[0][0]
    tamper(site, "UPDATE audit_event SET actor = 'someone_else' WHERE id = :id", id=target)
    altered = client.post("/audit/verify").get_data(as_text=True)
    assert 'data-ok="false"' in altered
    assert re.search(rf"<dd data-first-bad>#{target}\b", altered)
    assert f"<dd data-checked>{target - 1}</dd>" in altered
    assert "content does not match its hash (altered)" in altered
    where = re.search(r'<a href="([^"]+)">show it in the trail</a>', altered)
    assert where and f"event-{target}" in where.group(1)
    assert (target, "instance_started") in rows(client.get(html.unescape(where.group(1)).split("#")[0]))


def test_verify_finds_a_deleted_event(site: Flask, as_user: Any) -> None:
    start_case(site)
    tamper(site, "DELETE FROM audit_event WHERE id = 3")
    body = in_english(as_user("auditor1")).post("/audit/verify").get_data(as_text=True)
    assert 'data-ok="false"' in body and "<dd data-first-bad>#3" in body and "event 3 is missing" in body


def test_the_pages_in_chinese(site: Flask, as_user: Any) -> None:
    case = start_case(site)
    client = as_user("auditor1")
    client.post("/language", {"language": "zh", "next": "/audit"})
    body = client.get(f"/audit?instance_id={case.id}").get_data(as_text=True)
    assert "审计日志" in body and "案件发起" in body and "下载 CSV" in body and "筛选" in body
    assert "校验审计日志" in body
    history = client.get(f"/audit/cases/{case.id}").get_data(as_text=True)
    assert "案件历史" in history and "流程图版本" in history
    verified = client.post("/audit/verify").get_data(as_text=True)
    assert "审计日志未被篡改" in verified
