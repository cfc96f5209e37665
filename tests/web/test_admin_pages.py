"""The admin pages: incidents (retry, resolve), users (create, change, reset password), groups, tokens; admins only."""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from engine.errors import EngineError, ScriptError
from engine.settings import Settings
from engine.views import Actor, AuditType, IncidentView
from tests.api.conftest import PASSWORD
from tests.web.conftest import Pages, without_forms

PAGES = ("/admin/incidents", "/admin/incidents?state=resolved", "/admin/users", "/admin/users/new",
         "/admin/users/desk1", "/admin/groups", "/admin/tokens", "/admin/tokens?user=desk1")


@pytest.fixture
def site_settings(site_settings: Settings) -> Settings:
    """One failed try makes a job an incident, so a test can make one without waiting for backoff."""
    return dataclasses.replace(site_settings, job_max_attempts=1, job_backoff_seconds=0.05)


def services(site: Flask) -> Any:
    return site.extensions["opsflow"]


def admin(as_user: Any) -> Pages:
    client: Pages = as_user("admin")
    client.post("/language", {"language": "en", "next": "/admin/users"})  # no Accept-Language means Chinese
    return client


def person_incident(site: Flask) -> IncidentView:
    """An incident from a person's action: completing the task runs a script that divides by zero."""
    engine, identity = services(site).engine, services(site).identity
    files = without_forms("failing.bpmn", "service_desk")  # without its form the task takes no data: no `note`
    files["failing.bpmn"] = files["failing.bpmn"].replace(b"(len(note) - len(note))", b"0")
    engine.definitions.deploy(files, Actor.system())
    desk1 = identity.actor_for("desk1")
    case = engine.instances.start("failing", {}, desk1)
    with pytest.raises(ScriptError):
        engine.tasks.complete(case.open_tasks[0].id, {}, desk1)
    (incident,) = engine.incidents.list(Actor.system()).items
    return incident  # type: ignore[no-any-return]


def job_incident(site: Flask, monkeypatch: pytest.MonkeyPatch) -> tuple[IncidentView, str]:
    """An incident from a background job: the SLA warning timer's first (and only) try fails."""
    engine, identity = services(site).engine, services(site).identity
    files = without_forms("sla_timers.bpmn", "service_desk")
    files["sla_timers.bpmn"] = files["sla_timers.bpmn"].replace(b'"PT2S"', b'"PT1H"')
    engine.definitions.deploy(files, Actor.system())
    case = engine.instances.start("sla_timers", {}, identity.actor_for("desk1"))
    original = engine.runtime.fire_due_timers

    def failing(workflow: Any) -> Any:
        raise EngineError("the mail gateway did not answer", element_id="warn")

    monkeypatch.setattr(engine.runtime, "fire_due_timers", failing)
    time.sleep(1.1)
    engine.jobs.run_due("test-worker")
    monkeypatch.setattr(engine.runtime, "fire_due_timers", original)
    (incident,) = engine.incidents.list(Actor.system()).items
    return incident, case.id


def field_errors(response: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, message in re.findall(r'data-error-for="([^"]+)">([^<]+)<', response.get_data(as_text=True)):
        found.setdefault(name, []).append(message)
    return found


# -- who may open the pages ---------------------------------------------------------------------------------

def test_anonymous_visitors_are_sent_to_the_login_page(pages: Pages) -> None:
    for path in (*PAGES, "/admin"):
        response = pages.get(path)
        assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login", path
    assert pages.post("/admin/users/new", {"username": "x"}).status_code == 302


@pytest.mark.parametrize("username", ["auditor1", "owner1", "desk1"])
def test_other_roles_get_403(as_user: Any, username: str) -> None:
    client = as_user(username)
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 403 and 'data-status="403"' in response.get_data(as_text=True), path
    assert client.post("/admin/users/new", {"username": "sneaky", "password": PASSWORD}).status_code == 403
    assert client.post("/admin/users/desk1", {"roles": ["admin"]}).status_code == 403
    assert client.post("/admin/incidents/1/resolve", {"comment": "x"}).status_code == 403
    assert client.post("/admin/tokens/1/revoke").status_code == 403
    assert 'data-area="admin"' not in client.get("/inbox").get_data(as_text=True)


def test_admins_open_every_page(as_user: Any) -> None:
    client = admin(as_user)
    assert urlsplit(client.get("/admin").headers["Location"]).path == "/admin/incidents"
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        body = response.get_data(as_text=True)
        assert 'class="active" data-area="admin"' in body and 'class="tabs admin-tabs"' in body


def test_a_post_without_the_csrf_token_changes_nothing(site: Flask, as_user: Any) -> None:
    client = admin(as_user)
    refused = client.post("/admin/users/new", {"username": "eve", "password": PASSWORD}, csrf=False)
    assert refused.status_code == 400
    assert services(site).identity.list_users(Actor.system(), q="eve").total == 0
    assert client.post("/admin/users/desk1", {"roles": ["admin"]}, csrf=False).status_code == 400
    assert services(site).identity.get_user("desk1").roles == ["staff"]


# -- incidents ----------------------------------------------------------------------------------------------

def test_resolve_an_incident_from_the_page(site: Flask, as_user: Any) -> None:
    incident = person_incident(site)
    client = admin(as_user)
    listed = client.get("/admin/incidents").get_data(as_text=True)
    assert f'data-incident-id="{incident.id}" data-state="open"' in listed and "ZeroDivisionError" in listed

    # a person's action has no job behind it: retry is refused with the reason, nothing changes
    refused = client.post(f"/admin/incidents/{incident.id}/retry?state=open&page=1")
    assert refused.status_code == 409
    assert "nothing to retry" in refused.get_data(as_text=True)
    assert services(site).engine.incidents.list(Actor.system()).items[0].state == "open"

    done = client.post(f"/admin/incidents/{incident.id}/resolve?state=open&page=1", {"comment": "divisor fixed"})
    assert done.status_code == 302
    assert f"Incident {incident.id} is marked resolved." in client.get(done.headers["Location"]).get_data(as_text=True)
    (resolved,) = services(site).engine.incidents.list(Actor.system(), state="resolved").items
    assert (resolved.state, resolved.resolved_by) == ("resolved", "admin")
    events = services(site).engine.audit_events(type=AuditType.INCIDENT_RESOLVED)
    assert events[-1].data == {"incident_id": incident.id, "comment": "divisor fixed"}
    shown = client.get("/admin/incidents?state=resolved").get_data(as_text=True)
    assert f'data-incident-id="{incident.id}" data-state="resolved"' in shown

    # someone was quicker: the comment typed stays in the form
    again = client.post(f"/admin/incidents/{incident.id}/resolve?state=resolved", {"comment": "me too"})
    assert again.status_code == 409 and "already dealt with" in again.get_data(as_text=True)


def test_a_too_long_comment_is_refused_and_kept(site: Flask, as_user: Any) -> None:
    incident = person_incident(site)
    response = admin(as_user).post(f"/admin/incidents/{incident.id}/resolve", {"comment": "x" * 2001})
    assert response.status_code == 422 and "at most 2000 characters" in response.get_data(as_text=True)
    assert "x" * 2001 in response.get_data(as_text=True)
    assert services(site).engine.incidents.list(Actor.system()).items[0].state == "open"


def test_retry_a_failed_job_from_the_page(site: Flask, as_user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    incident, case_id = job_incident(site, monkeypatch)
    engine = services(site).engine
    client = admin(as_user)
    assert "the mail gateway did not answer" in client.get("/admin/incidents").get_data(as_text=True)

    response = client.post(f"/admin/incidents/{incident.id}/retry?state=open&page=1")
    assert response.status_code == 302
    assert "queued again" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert engine.incidents.list(Actor.system(), state="retried").items[0].id == incident.id
    assert engine.jobs.run_due("test-worker") == 1  # the job runs again and now succeeds
    assert "chase" in engine.instances.get(case_id, Actor.system()).active_element_ids


# -- users --------------------------------------------------------------------------------------------------

def test_create_a_user_from_the_page(site: Flask, as_user: Any) -> None:
    client = admin(as_user)
    response = client.post("/admin/users/new", {
        "username": "desk9", "password": PASSWORD, "display_name_zh": "新同事", "display_name_en": "New colleague",
        "email": "desk9@example.com", "language": "zh", "groups": ["service_desk", "first_line"], "roles": ["staff"]})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/users/desk9")
    user = services(site).identity.get_user("desk9")
    assert (user.groups, user.roles, user.display_name, user.language) == (
        ["first_line", "service_desk"], ["staff"], {"zh": "新同事", "en": "New colleague"}, "zh")
    assert "User desk9 is created." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-user="desk9"' in client.get("/admin/users?q=desk9").get_data(as_text=True)
    Pages(site.test_client()).login("desk9")  # and the person can sign in


def test_a_refused_new_user_keeps_what_was_typed(site: Flask, as_user: Any) -> None:
    client = admin(as_user)
    typed = {"username": "bad name!", "password": "short", "display_name_zh": "张三", "email": "not-an-email",
             "groups": ["service_desk"], "roles": ["auditor"]}
    response = client.post("/admin/users/new", typed)
    assert response.status_code == 422
    errors = field_errors(response)
    assert set(errors) == {"username", "password", "email"}
    body = response.get_data(as_text=True)
    assert 'value="bad name!"' in body and 'value="张三"' in body and 'value="not-an-email"' in body
    assert 'value="service_desk" checked' in body and 'value="auditor" checked' in body
    assert 'value="short"' not in body  # a password is never sent back
    assert services(site).identity.list_users(Actor.system(), q="bad").total == 0

    taken = client.post("/admin/users/new", {**typed, "username": "desk1", "password": PASSWORD, "email": ""})
    assert taken.status_code == 409 and field_errors(taken) == {"username": ["A user with this name already exists."]}
    unknown = client.post("/admin/users/new", {"username": "x1", "password": PASSWORD, "groups": ["no_such_group"]})
    assert unknown.status_code == 422 and list(field_errors(unknown)) == ["groups"]
    assert services(site).identity.list_users(Actor.system(), q="x1").total == 0


def test_change_a_user_from_the_page(site: Flask, as_user: Any) -> None:
    client = admin(as_user)
    page = client.get("/admin/users/l1eng1").get_data(as_text=True)
    assert 'value="first_line" checked' in page
    response = client.post("/admin/users/l1eng1", {
        "display_name_zh": "一线 赵", "display_name_en": "Zhao", "language": "en", "active": "on",
        "groups": ["first_line", "second_line"], "roles": ["staff", "auditor"]})
    assert response.status_code == 302
    user = services(site).identity.get_user("l1eng1")
    assert (user.groups, user.roles, user.display_name) == (
        ["first_line", "second_line"], ["auditor", "staff"], {"zh": "一线 赵", "en": "Zhao"})
    assert "The changes to l1eng1 are saved." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_refused_change_changes_nothing(site: Flask, as_user: Any) -> None:
    client = admin(as_user)
    before = services(site).identity.get_user("admin")
    response = client.post("/admin/users/admin", {"display_name_en": "Renamed", "roles": ["admin"]})  # inactive
    assert response.status_code == 422
    assert field_errors(response) == {"active": ["you cannot deactivate yourself"]}
    assert 'value="Renamed"' in response.get_data(as_text=True)
    assert services(site).identity.get_user("admin") == before

    unknown = client.post("/admin/users/desk1", {"active": "on", "groups": ["service_desk", "ghosts"]})
    assert unknown.status_code == 422 and list(field_errors(unknown)) == ["groups"]
    assert 'value="ghosts"' not in unknown.get_data(as_text=True)  # only real groups are offered
    assert services(site).identity.get_user("desk1").groups == ["service_desk"]
    assert client.get("/admin/users/nobody").status_code == 404


def test_deactivating_a_user_ends_their_sessions(site: Flask, as_user: Any) -> None:
    desk = as_user("desk1")
    assert desk.get("/inbox").status_code != 302  # signed in (what the inbox shows is not this test's business)
    admin(as_user).post("/admin/users/desk1", {"groups": ["service_desk"], "roles": ["staff"]})
    assert services(site).identity.get_user("desk1").active is False
    assert urlsplit(desk.get("/inbox").headers["Location"]).path == "/login"


def test_reset_a_password_from_the_page(site: Flask, as_user: Any) -> None:
    client = admin(as_user)
    mismatch = client.post("/admin/users/desk1/password", {"password": "a-new-secret", "password_again": "other"})
    assert mismatch.status_code == 422 and field_errors(mismatch) == {"password": ["The two passwords differ."]}
    short = client.post("/admin/users/desk1/password", {"password": "short", "password_again": "short"})
    assert field_errors(short) == {"password": ["must be at least 8 characters"]}
    Pages(site.test_client()).login("desk1")  # still the old password

    done = client.post("/admin/users/desk1/password", {"password": "a-new-secret", "password_again": "a-new-secret"})
    assert done.status_code == 302
    Pages(site.test_client()).login("desk1", "a-new-secret")
    old = Pages(site.test_client())
    old.get("/login")
    assert old.post("/login", {"username": "desk1", "password": PASSWORD}).status_code == 401


# -- groups and tokens --------------------------------------------------------------------------------------

def test_groups_with_members_in_the_users_language(as_user: Any) -> None:
    client = admin(as_user)
    english = client.get("/admin/groups").get_data(as_text=True)
    row = re.search(r'<tr data-group="service_desk">(.*?)</tr>', english, re.S)
    assert row and "<code>service_desk</code>" in row.group(1) and 'data-members="1"' in row.group(1)
    assert "General manager" in english
    client.post("/language", {"language": "zh", "next": "/admin/groups"})
    chinese = client.get("/admin/groups").get_data(as_text=True)
    assert "总经理" in chinese and "组织" in chinese and "人数" in chinese


def test_revoke_a_token_from_the_page(site: Flask, as_user: Any) -> None:
    desk = as_user("desk1")
    client = admin(as_user)
    listed = client.get("/admin/tokens?user=desk1")
    live = re.findall(r'data-token-id="(\d+)" data-live="true"', listed.get_data(as_text=True))
    assert len(live) == 1
    response = client.post(f"/admin/tokens/{live[0]}/revoke")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/tokens?user=desk1")
    after = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f'data-token-id="{live[0]}" data-live="false"' in after and "revoked" in after
    assert urlsplit(desk.get("/inbox").headers["Location"]).path == "/login"
    assert services(site).engine.audit_events(type=AuditType.TOKEN_REVOKED)[-1].data["username"] == "desk1"
    assert client.get("/admin/tokens?user=nobody").status_code == 404
    assert client.post("/admin/tokens/999999/revoke").status_code == 404
