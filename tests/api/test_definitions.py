"""Deploying and reading process definitions."""

from __future__ import annotations

from tests.api.conftest import Client, assert_problem, upload
from tests.conftest import fixture_files

MULTIPART = "multipart/form-data"


def _changed_approval() -> dict[str, bytes]:
    xml = fixture_files("approval.bpmn")["approval.bpmn"].replace(b'name="Publish"', b'name="Publish it"')
    return {"approval.bpmn": xml}


def test_deploy_new_then_unchanged_then_list_and_versions(approval: Client) -> None:
    again = approval.post("/api/process-definitions", "olivia", data=upload("approval.bpmn"), content_type=MULTIPART)
    assert again.status_code == 200
    assert again.json["unchanged"] == ["approval"] and again.json["created"] == []
    changed = approval.post("/api/process-definitions", "olivia", data=upload(content=_changed_approval()),
                            content_type=MULTIPART)
    assert changed.status_code == 201
    assert (changed.json["key"], changed.json["version"], changed.json["created"]) == ("approval", 2, ["approval"])
    listing = approval.get("/api/process-definitions", "alice").json
    assert [(d["key"], d["name"], d["version"]) for d in listing] == [("approval", "Approval", 2)]
    assert isinstance(listing[0]["id"], int)
    versions = approval.get("/api/process-definitions/approval", "alice").json
    assert versions["latest_version"] == 2
    assert [(v["version"], v["deployed_by"], v["instance_count"]) for v in versions["versions"]] == [
        (2, "olivia", 0), (1, "olivia", 0)]
    assert_problem(approval.get("/api/process-definitions/nope", "alice"), 404)


def test_xml_is_verbatim_with_version_etag(approval: Client) -> None:
    response = approval.get("/api/process-definitions/approval/xml", "alice")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert response.data == fixture_files("approval.bpmn")["approval.bpmn"]
    assert response.headers["ETag"] == '"1"'
    cached = approval.get("/api/process-definitions/approval/xml?version=1", "alice",
                          headers={"If-None-Match": '"1"'})
    assert cached.status_code == 304
    assert_problem(approval.get("/api/process-definitions/approval/xml?version=9", "alice"), 404)
    assert_problem(approval.get("/api/process-definitions/approval/xml?file=other.dmn", "alice"), 404)


def test_an_uploaded_diagram_is_served_so_no_browser_runs_what_it_contains(approval: Client) -> None:
    """A process owner could put an XHTML <script> in an extension element; opened as a page by an admin it
    must run nothing (stored XSS to the admin's session)."""
    opening = b'<bpmn:process id="approval" name="Approval" isExecutable="true">'
    xml = fixture_files("approval.bpmn")["approval.bpmn"].replace(
        opening, opening + b'<bpmn:extensionElements><h:script xmlns:h="http://www.w3.org/1999/xhtml">'
        b'fetch("/api/auth/csrf")</h:script></bpmn:extensionElements>', 1)
    deployed = approval.post("/api/process-definitions", "olivia", data=upload(content={"approval.bpmn": xml}),
                             content_type=MULTIPART)
    assert deployed.status_code == 201
    served = approval.get("/api/process-definitions/approval/xml", "adam")
    assert b"<h:script" in served.data  # verbatim, as the editor needs it
    assert served.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    listing = approval.get("/api/process-definitions", "adam")  # and every answer is marked
    assert listing.headers["X-Content-Type-Options"] == "nosniff" and listing.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_deploy_needs_process_owner(api: Client) -> None:
    body = assert_problem(api.post("/api/process-definitions", "alice", data=upload("approval.bpmn"),
                                   content_type=MULTIPART), 403, "forbidden")
    assert "process_owner" in body["detail"]
    assert_problem(api.post("/api/process-definitions", data=upload("approval.bpmn"), content_type=MULTIPART), 401)


def test_invalid_diagram_is_422_with_element_and_file(api: Client) -> None:
    xml = fixture_files("approval.bpmn")["approval.bpmn"].replace(b'targetRef="review"', b'targetRef="missing"')
    body = assert_problem(api.post("/api/process-definitions", "olivia", data=upload(content={"bad.bpmn": xml}),
                                   content_type=MULTIPART), 422, "invalid-model")
    assert body["problems"] and all("message" in p for p in body["problems"])
    garbage = api.post("/api/process-definitions", "olivia", data=upload(content={"x.bpmn": b"<not xml"}),
                       content_type=MULTIPART)
    body = assert_problem(garbage, 422, "invalid-model")
    assert body["problems"][0].get("file_name") == "x.bpmn"


def test_unsupported_files_and_empty_uploads_are_422(api: Client) -> None:
    body = assert_problem(api.post("/api/process-definitions", "olivia", data=upload(content={"a.exe": b"MZ"}),
                                   content_type=MULTIPART), 422, "validation-failed")
    assert "files" in body["errors"]
    assert_problem(api.post("/api/process-definitions", "olivia", data={}, content_type=MULTIPART), 422)


def test_if_match_guards_against_lost_updates(approval: Client) -> None:
    stale = approval.post("/api/process-definitions", "olivia", data=upload(content=_changed_approval()),
                          content_type=MULTIPART, headers={"If-Match": '"0"'})
    body = assert_problem(stale, 412, "precondition-failed")
    assert "version 1" in body["detail"]
    assert approval.get("/api/process-definitions/approval", "alice").json["latest_version"] == 1
    form_field = approval.post("/api/process-definitions", "olivia",
                               data={**upload(content=_changed_approval()), "expected_version": "0"},
                               content_type=MULTIPART)
    assert_problem(form_field, 412)
    fresh = approval.post("/api/process-definitions", "olivia", data=upload(content=_changed_approval()),
                          content_type=MULTIPART, headers={"If-Match": '"1"'})
    assert fresh.status_code == 201 and fresh.json["version"] == 2
    assert_problem(approval.post("/api/process-definitions", "olivia", data=upload("approval.bpmn"),
                                 content_type=MULTIPART, headers={"If-Match": "yesterday"}), 400)


def test_too_large_bundle_is_413(settings, engine) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from api import create_app
    from engine.core import Engine
    from tests.api.conftest import PASSWORD, cheap_passwords, identity_of

    small = replace(settings, max_upload_bytes=2000)
    app = create_app(small, Engine(small), passwords=cheap_passwords())
    identity_of(app).create_user("owner", PASSWORD, roles=["process_owner"])
    client = Client(app.test_client())
    body = assert_problem(client.post("/api/process-definitions", "owner", data=upload("approval.bpmn"),
                                      content_type=MULTIPART), 413, "too-large")
    assert "limit" in body["detail"]


def test_validate_checks_without_deploying(api: Client) -> None:
    ok = api.post("/api/process-definitions/validate", "olivia", data=upload("approval.bpmn"), content_type=MULTIPART)
    assert ok.status_code == 200 and ok.json == {"ok": True, "keys": ["approval"]}
    assert api.get("/api/process-definitions", "olivia").json == []
    xml = fixture_files("approval.bpmn")["approval.bpmn"].replace(b'targetRef="review"', b'targetRef="missing"')
    body = assert_problem(api.post("/api/process-definitions/validate", "olivia",
                                   data=upload(content={"bad.bpmn": xml}), content_type=MULTIPART),
                          422, "invalid-model")
    assert body["problems"] and all(p["message"] for p in body["problems"])
    not_executable = xml.replace(b'isExecutable="true"', b'isExecutable="false"')
    body = assert_problem(api.post("/api/process-definitions/validate", "olivia",
                                   data=upload(content={"draft.bpmn": not_executable}), content_type=MULTIPART), 422)
    assert "isExecutable" in body["problems"][0]["message"]
    assert_problem(api.post("/api/process-definitions/validate", "olivia", data=upload(content={"a.exe": b"MZ"}),
                            content_type=MULTIPART), 422, "validation-failed")


def test_validate_needs_process_owner(api: Client) -> None:
    assert_problem(api.post("/api/process-definitions/validate", "alice", data=upload("approval.bpmn"),
                            content_type=MULTIPART), 403, "forbidden")
    assert_problem(api.post("/api/process-definitions/validate", data=upload("approval.bpmn"),
                            content_type=MULTIPART), 401)
