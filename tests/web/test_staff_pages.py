"""The staff's pages: inbox, task page, starting a request, my cases, a case's page."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from api import create_app
from engine.core import Engine
from engine.db.models import HumanTask
from engine.db.types import utcnow
from engine.views import Actor, Role
from tests.api.conftest import cheap_passwords
from tests.processes.conftest import form_data
from tests.web.conftest import Pages, without_forms

SR = {"request_channel": "hotline", "customer_name": "青岛某银行", "customer_contact": "李工 13800000000",
      "service_level": "gold", "request_category": "fault", "request_summary": "邮件系统无法发信",
      "request_content": "全行邮件无法外发", "impact": "high", "urgency": "high"}
EVERYONE = frozenset({"service_desk", "first_line", "second_line", "ops_service", "service_knowledge"})


def engine_of(site: Flask) -> Any:
    return site.extensions["opsflow"].engine


def person(username: str, *groups: str) -> Actor:
    return Actor(username, groups=frozenset(groups), roles=frozenset({Role.STAFF}))


def start_request(site: Flask, business_key: str, **overrides: Any) -> Any:
    return engine_of(site).instances.start("service_request", {**SR, **overrides}, person("desk1", "service_desk"),
                                           business_key=business_key)


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def task_of(case: Any, element_id: str) -> Any:
    return next(t for t in case.open_tasks if t.element_id == element_id)


# -- who may open what ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/inbox", "/start", "/cases", "/start/service_request", "/tasks/x", "/cases/x"])
def test_anonymous_visitors_are_sent_to_sign_in_and_come_back_after(pages: Pages, path: str) -> None:
    response = pages.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    pages.get("/login")
    signed_in = pages.post("/login", {"username": "desk1", "password": "correct-horse-battery", "next": path})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == path


def test_sign_in_never_redirects_off_site_and_a_wrong_password_says_so(pages: Pages) -> None:
    pages.get("/login")
    response = pages.post("/login", {"username": "desk1", "password": "correct-horse-battery",
                                     "next": "https://evil.example/steal"})
    assert response.headers["Location"] == "/inbox"
    other = Pages(pages.client.application.test_client())
    other.get("/login")
    wrong = other.post("/login", {"username": "desk1", "password": "nope"}, headers={"Accept-Language": "en"})
    assert wrong.status_code == 401 and "The user name or password is wrong." in html(wrong)
    assert 'value="desk1"' in html(wrong)  # what was typed stays


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(site: Flask, as_user) -> None:
    case = start_request(site, "SR-CSRF")
    engineer = as_user("l1eng1")
    task = task_of(case, "assess_request")
    refused = engineer.post(f"/tasks/{task.id}/claim", csrf=False)
    assert refused.status_code == 400 and "表单已过期" in html(refused)  # Chinese: the test client sends no language
    forged = engineer.post(f"/tasks/{task.id}/claim", {"csrf_token": "forged"}, csrf=False)
    assert forged.status_code == 400
    assert engine_of(site).tasks.get(task.id, Actor.system())[0].assignee is None


def test_staff_do_not_see_the_owner_auditor_and_admin_areas(as_user) -> None:
    desk = as_user("desk1")
    page = html(desk.get("/inbox"))
    assert 'data-area="inbox"' in page and 'data-area="audit"' not in page and 'data-area="admin"' not in page
    for path in ("/editor", "/audit", "/admin/incidents"):
        assert desk.get(path).status_code == 403


# -- the inbox ----------------------------------------------------------------------------------------------------

def test_the_inbox_has_my_tasks_and_my_groups_tasks_with_counts_and_claim_moves_one_across(site: Flask,
                                                                                          as_user) -> None:
    case = start_request(site, "SR-TABS")
    engineer = as_user("l1eng1")
    offered = html(engineer.get("/inbox?tab=candidate"))
    task = task_of(case, "assess_request")
    assert f'data-task-id="{task.id}"' in offered
    assert 'data-count="candidate">1<' in offered and 'data-count="mine">0<' in offered
    claimed = engineer.post(f"/tasks/{task.id}/claim", {"next": "/inbox?tab=mine"})
    assert claimed.headers["Location"] == "/inbox?tab=mine"
    mine = html(engineer.get("/inbox?tab=mine"))
    assert f'data-task-id="{task.id}"' in mine and 'data-count="mine">1<' in mine
    assert f'data-task-id="{task.id}"' not in html(engineer.get("/inbox?tab=candidate"))
    assert 'data-count="mine">0<' not in mine
    engineer.post(f"/tasks/{task.id}/unclaim", {"next": "/inbox?tab=candidate"})
    assert f'data-task-id="{task.id}"' in html(engineer.get("/inbox?tab=candidate"))


def test_someone_elses_claimed_task_cannot_be_claimed_from_the_page(site: Flask, as_user) -> None:
    case = start_request(site, "SR-TAKEN")
    task = task_of(case, "assess_request")
    engine_of(site).tasks.claim(task.id, person("l1eng1", "first_line"))
    site.extensions["opsflow"].identity.create_user("l1eng2", "correct-horse-battery", groups=["first_line"],
                                                      roles=["staff"])
    other = as_user("l1eng2")
    response = other.post(f"/tasks/{task.id}/claim")
    assert response.status_code == 409
    assert "“问题评估”已被 l1eng1 认领。" in html(response)  # said in Chinese, with the name in Chinese only
    # the language switch on that (POST) answer goes back to the page the claim was sent from
    sent_from = f"/tasks/{task.id}"
    refused = other.post(f"/tasks/{task.id}/claim", headers={"Referer": f"http://localhost{sent_from}"})
    assert f'name="next" value="{sent_from}"' in html(refused)
    switched = other.post("/language", {"language": "en", "next": sent_from})
    assert switched.status_code == 302 and switched.headers["Location"] == sent_from
    assert other.get(sent_from).status_code == 200
    elsewhere = other.post(f"/tasks/{task.id}/claim", headers={"Referer": "https://evil.example/x"})
    assert 'name="next" value="/"' in html(elsewhere)
    page = html(other.get(f"/tasks/{task.id}"))
    assert "is working on this task" in page or "正在处理此任务" in page
    assert 'class="card stack task-form"' not in page  # no form to fill for someone else's task


def test_search_filter_and_sort_narrow_the_inbox(site: Flask, as_user) -> None:
    urgent = start_request(site, "SR-FIND-ME")
    start_request(site, "SR-OTHER", impact="low", urgency="low")
    engineer = as_user("l1eng1")
    found = html(engineer.get("/inbox?tab=candidate&q=FIND-ME"))
    assert task_of(urgent, "assess_request").id in found and "SR-OTHER" not in found
    assert "SR-OTHER" not in html(engineer.get("/inbox?tab=candidate&key=change_request"))
    by_priority = html(engineer.get("/inbox?tab=candidate&sort=priority"))
    assert by_priority.index("SR-FIND-ME") < by_priority.index("SR-OTHER")  # P1 before P4
    by_created = html(engineer.get("/inbox?tab=candidate&sort=created"))
    assert by_created.index("SR-OTHER") < by_created.index("SR-FIND-ME")  # newest first
    assert engineer.get("/inbox?tab=candidate&sort=nonsense&state=bogus&page=abc").status_code == 200


def test_the_inbox_pages_through_many_tasks(site: Flask, as_user) -> None:
    for n in range(23):
        start_request(site, f"SR-PAGE-{n:02}")
    engineer = as_user("l1eng1")
    first = html(engineer.get("/inbox?tab=candidate&q=SR-PAGE&sort=created"))
    second = html(engineer.get("/inbox?tab=candidate&q=SR-PAGE&sort=created&page=2"))
    assert first.count("data-task-id=") == 20 and second.count("data-task-id=") == 3
    assert 'rel="next"' in first and 'rel="prev"' in second and "SR-PAGE-22" in first and "SR-PAGE-00" in second


def test_overdue_and_nearly_due_tasks_stand_out(site: Flask, as_user) -> None:
    late = task_of(start_request(site, "SR-LATE"), "assess_request")
    soon = task_of(start_request(site, "SR-SOON"), "assess_request")
    later = task_of(start_request(site, "SR-LATER"), "assess_request")
    engine = engine_of(site)
    with engine.db.transaction() as session:
        for task, due in ((late, utcnow() - timedelta(minutes=5)), (soon, utcnow() + timedelta(hours=2)),
                          (later, utcnow() + timedelta(days=3))):
            session.execute(update(HumanTask).where(HumanTask.id == task.id).values(due_at=due))
    page = html(as_user("l1eng1").get("/inbox?tab=candidate&q=SR-L"))
    row = {t.id: page[page.index(f'data-task-id="{t.id}"') - 40:page.index(f'data-task-id="{t.id}"')]
           for t in (late, later)}
    assert 'class="overdue"' in row[late.id] and 'class=""' in row[later.id]
    assert 'class="due-soon"' in html(as_user("l1eng1").get("/inbox?tab=candidate&q=SR-SOON"))


# -- the task page ------------------------------------------------------------------------------------------------

def test_the_task_page_renders_the_form_in_the_users_language_with_the_case_data_and_diagram(site: Flask,
                                                                                            as_user) -> None:
    case = start_request(site, "SR-FORM")
    task = task_of(case, "assess_request")
    engineer = as_user("l1eng1")
    engineer.post("/language", {"language": "zh"})
    page = html(engineer.get(f"/tasks/{task.id}"))
    assert "问题类型" in page and "— 请选择 —" in page and 'class="required-mark"' in page
    assert "<dd>服务请求处理 · v1</dd>" in page  # the procedure by its name, in the page's language
    assert "服务请求处理 v1" in html(engineer.get(f"/cases/{case.id}"))
    assert '<option value="software" >软件</option>' in page or ">软件</option>" in page
    assert "青岛某银行" in page and "邮件系统无法发信" in page  # the case's data, read-only
    assert 'data-xml-url="/api/process-definitions/service_request/xml?version=' in page
    assert "&#34;highlight&#34;: [&#34;assess_request&#34;]" in page
    engineer.post("/language", {"language": "en"})
    english = html(engineer.get(f"/tasks/{task.id}"))
    assert "Problem type" in english and "Software" in english


def test_a_refused_form_shows_messages_beside_the_fields_keeps_the_input_and_changes_nothing(site: Flask,
                                                                                            as_user) -> None:
    case = start_request(site, "SR-REFUSE")
    task = task_of(case, "assess_request")
    engineer = as_user("l1eng1")
    engineer.post("/language", {"language": "en"})
    before = engine_of(site).instances.get(case.id, Actor.system())
    refused = engineer.post(f"/tasks/{task.id}", {"problem_type": "software", "severity": "nonsense",
                                                  "impact_scope": "<b>全行</b>", "extra_field": "x"})
    page = html(refused)
    assert refused.status_code == 422
    assert page.count('class="field-error"') >= 2  # handling_plan required, severity not an option
    handling = page[page.index('data-field="handling_plan"'):]
    assert "This field is required" in handling[:handling.index("</div>")]
    assert "&lt;b&gt;全行&lt;/b&gt;" in page and "<b>全行</b>" not in page  # kept, and escaped
    after = engine_of(site).instances.get(case.id, Actor.system())
    assert after.row_version == before.row_version and after.data == before.data
    assert [t.element_id for t in after.open_tasks] == ["assess_request"]


def test_completing_the_form_moves_the_case_on_and_types_the_values(site: Flask, as_user) -> None:
    case = start_request(site, "SR-DONE")
    task = task_of(case, "assess_request")
    engineer = as_user("l1eng1")
    done = engineer.post(f"/tasks/{task.id}", {"problem_type": "software", "severity": "critical",
                                               "impact_scope": "全行", "handling_plan": "重启", "urgent_fault": ""})
    assert done.status_code == 302
    after = engine_of(site).instances.get(case.id, Actor.system())
    assert after.data["handling_plan"] == "重启" and after.data["urgent_fault"] is True  # a ticked checkbox
    assert "assess_request" not in [t.element_id for t in after.open_tasks]
    again = engineer.post(f"/tasks/{task.id}", {"handling_plan": "twice"})
    page = html(again)
    assert again.status_code == 409
    assert "“问题评估”已不再待处理：l1eng1 已处理（已完成）。" in page  # the refusal in the page's language
    kept = page[page.index("您填写的内容（未保存）"):]
    assert ">twice</textarea>" in kept and "disabled" in kept  # what was typed is shown, not lost


def test_a_number_field_that_is_not_a_number_gets_the_servers_message(site: Flask, as_user) -> None:
    store = as_user("store1")
    store.post("/language", {"language": "en"})
    data = form_data("procurement_request_start", quantity="many")
    response = store.post("/start/procurement_request", {k: str(v) for k, v in data.items()})
    assert response.status_code == 422
    field = html(response)[html(response).index('data-field="quantity"'):]
    assert "whole number" in field[:field.index("</div>")]


def test_separation_of_duties_is_refused_on_the_page_with_the_rule(site: Flask, as_user) -> None:
    engine = engine_of(site)
    requester = person("l2eng1", "second_line")  # an engineer requests a change; the assessment is offered to them
    start = form_data("change_request_start", change_type="normal", involves_confidential_data=False)
    case = engine.instances.start("change_request", start, requester)
    engine.tasks.complete(task_of(case, "unit_head_signoff").id, form_data(  # their manager signs first
        "change_request_unit_head_signoff", unit_head_decision="approve"), person("opsmgr1", "ops_service"))
    assessment = task_of(engine.instances.get(case.id, Actor.system()), "assess_change")
    engineer = as_user("l2eng1")
    engineer.post("/language", {"language": "en"})
    refused = engineer.post(f"/tasks/{assessment.id}", {"technically_feasible": "", "risk_level": "low",
                                                        "risk_assessment": "低", "assessed_change_class": "standard"})
    assert refused.status_code == 403
    assert "Separation of duties: you started this case, so someone else must do “Assess the change”." in html(
        refused)
    assert task_of(engine.instances.get(case.id, Actor.system()), "assess_change").state == "open"


# -- starting a request -------------------------------------------------------------------------------------------

def test_only_the_procedures_a_person_may_start_are_offered(as_user) -> None:
    desk = html(as_user("desk1").get("/start"))
    assert 'data-key="service_request"' in desk and 'data-key="procurement_request"' not in desk
    assert 'data-key="emergency_drill"' not in desk  # started by its timer
    store = as_user("store1")
    assert 'data-key="procurement_request"' in html(store.get("/start"))
    assert store.get("/start/service_request").status_code == 403
    refused = store.post("/start/service_request", SR)
    assert refused.status_code == 403
    assert as_user("desk1").get("/start/emergency_drill").status_code == 404


def test_starting_a_request_from_its_form(site: Flask, as_user) -> None:
    desk = as_user("desk1")
    started = desk.post("/start/service_request", {**SR, "business_key": "SR-WEB-1"})
    assert started.status_code == 302 and started.headers["Location"].startswith("/cases/")
    case_page = html(desk.get(started.headers["Location"]))
    assert "SR-WEB-1" in case_page and 'data-type="instance_started"' in case_page
    cases = engine_of(site).instances.list(Actor.system(), key="service_request").items
    case = next(c for c in cases if c.business_key == "SR-WEB-1")
    assert case.data["customer_name"] == "青岛某银行" and case.started_by == "desk1"


def test_a_start_form_with_errors_starts_nothing(site: Flask, as_user) -> None:
    desk = as_user("desk1")
    before = engine_of(site).instances.list(Actor.system()).total
    response = desk.post("/start/service_request", {"customer_name": "ACME", "business_key": "SR-NOPE"})
    assert response.status_code == 422 and 'value="ACME"' in html(response) and 'value="SR-NOPE"' in html(response)
    assert engine_of(site).instances.list(Actor.system()).total == before


# -- my cases and a case's page -----------------------------------------------------------------------------------

def test_my_cases_lists_what_i_started_or_took_part_in_and_a_case_page_is_private(site: Flask, as_user) -> None:
    case = start_request(site, "SR-MINE")
    desk = as_user("desk1")
    assert "SR-MINE" in html(desk.get("/cases?scope=started"))
    assert "SR-MINE" in html(as_user("l1eng1").get("/cases"))  # its task is offered to first line
    assert "SR-MINE" not in html(as_user("buyer1").get("/cases"))
    assert as_user("buyer1").get(f"/cases/{case.id}").status_code == 403
    desk.post("/language", {"language": "en"})
    page = html(desk.get(f"/cases/{case.id}"))
    assert 'data-type="task_created"' in page and "<dd>Gold</dd>" in page  # the option's label, not "gold"
    assert as_user("auditor1").get(f"/cases/{case.id}").status_code == 200


def test_variables_set_by_scripts_and_decision_tables_are_labelled_in_the_pages_language(site: Flask,
                                                                                        as_user) -> None:
    case = start_request(site, "SR-LABELS")
    data = engine_of(site).instances.get(case.id, Actor.system()).data
    assert {"sla_response_due", "reopen_count", "priority"} <= set(data)  # set by a script and a DMN table
    desk = as_user("desk1")
    desk.post("/language", {"language": "zh"})
    page = html(desk.get(f"/cases/{case.id}"))
    assert "响应截止时间" in page and "重新打开次数" in page and "优先级" in page
    assert "Reopen count" not in page and "Sla response due" not in page  # no longer the variable's name
    desk.post("/language", {"language": "en"})
    assert "Times reopened" in html(desk.get(f"/cases/{case.id}"))


def test_case_data_is_escaped_on_every_page(site: Flask, as_user) -> None:
    payload = '<script>alert("x")</script>'
    case = start_request(site, "SR-XSS", customer_name=payload, request_summary=payload)
    desk = as_user("desk1")
    for path in (f"/cases/{case.id}", f"/tasks/{task_of(case, 'assess_request').id}"):
        page = html(as_user("l1eng1").get(path)) if "/tasks/" in path else html(desk.get(path))
        assert payload not in page and "&lt;script&gt;" in page


def test_a_script_failing_after_the_task_keeps_the_task_and_says_so_in_the_pages_language(site: Flask,
                                                                                           as_user) -> None:
    engine = engine_of(site)
    files = without_forms("failing.bpmn", "service_desk")
    files["failing.bpmn"] = files["failing.bpmn"].replace(b"(len(note) - len(note))", b"0")
    engine.definitions.deploy(files, Actor.system())
    case = engine.instances.start("failing", {}, person("desk1", "service_desk"))
    desk = as_user("desk1")
    response = desk.post(f"/tasks/{case.open_tasks[0].id}", {})
    page = html(response)
    assert response.status_code == 422
    assert "完成此任务后流程无法继续" in page and "已为管理员记录了一个故障" in page
    assert 'class="card stack task-form"' in page  # the form is still there to send again
    after = engine.instances.get(case.id, Actor.system())
    assert [t.element_id for t in after.open_tasks] == ["first"] and after.row_version == case.row_version
    assert len(engine.incidents.list(Actor.system()).items) == 1


def test_without_a_choice_or_a_browser_language_the_pages_speak_the_configured_default(site_settings) -> None:
    settings = dataclasses.replace(site_settings, default_language="en")
    engine = Engine(settings)
    try:
        client = create_app(settings, engine, passwords=cheap_passwords()).test_client()
        assert '<html lang="en">' in html(client.get("/login"))
        assert '<html lang="zh-CN">' in html(client.get("/login", headers={"Accept-Language": "zh-CN"}))
    finally:
        engine.close()


def test_an_address_no_page_answers_gets_a_page_and_the_api_a_problem(as_user) -> None:
    desk = as_user("desk1")
    page = desk.get("/inboxx")
    assert page.status_code == 404 and page.mimetype == "text/html" and "此地址没有页面。" in html(page)
    wrong = desk.get("/language")  # POST only
    assert wrong.status_code == 405 and wrong.mimetype == "text/html" and "无法以这种方式打开此页面。" in html(wrong)
    api = desk.get("/api/nope")
    assert api.status_code == 404 and api.mimetype == "application/problem+json"


def test_people_are_shown_by_name_where_a_task_is_offered_to_them(site: Flask, as_user) -> None:
    """The unit head's sign-off is offered to a person (candidate users): their name, in the page's language,
    on the inbox, the task and the case page."""
    start = form_data("change_request_start", change_type="normal", involves_confidential_data=False)
    case = engine_of(site).instances.start("change_request", start, person("l1eng1", "first_line"),
                                           business_key="CHG-NAMES")
    sign_off = task_of(case, "unit_head_signoff")
    assert sign_off.candidate_users == ["opsmgr1"]
    head = as_user("opsmgr1")
    inbox = html(head.get("/inbox?tab=candidate"))
    row = inbox[inbox.index("CHG-NAMES"):]
    assert "运维服务部经理 吴" in row[:row.index("</tr>")]
    assert "<dt>候选</dt><dd>运维服务部经理 吴</dd>" in html(head.get(f"/tasks/{sign_off.id}")).replace("\n", "")
    head.post("/language", {"language": "en"})
    page = html(as_user("l1eng1").get(f"/cases/{case.id}"))
    assert "一线工程师 褚" in page  # who started it (l1eng1's own page language: Chinese)
    opened = page[page.index("单位主管签核"):]
    assert "运维服务部经理 吴" in opened[:opened.index("</li>")]  # and who the open sign-off is offered to
    assert "Wu (operations service manager)" in html(head.get(f"/tasks/{sign_off.id}"))
