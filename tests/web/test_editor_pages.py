"""The process owners' editor pages: roles, CSRF, the list, the modeler page, upload, versions, compare."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from engine.views import Actor
from tests.web.conftest import PROCESSES, Pages

MIWG = Path("/work/shared/corpora/bpmn-miwg-reference")
OLD_NAME = "客户回访 / Customer callback"
NEW_NAME = "客户回访（电话） / Customer callback by phone"
OWNER_PAGES = ["/editor", "/editor/open", "/editor/service_request", "/editor/service_request/versions",
               "/editor/service_request/compare", "/editor/service_request/download"]


def _changed_service_request() -> dict[str, Any]:
    """The company's bundle (service requests call the emergency process and its tables) with one task renamed."""
    files = {p.name: p.read_bytes() for p in sorted(PROCESSES.iterdir()) if p.suffix in (".bpmn", ".dmn")}
    files["service_request.bpmn"] = files["service_request.bpmn"].decode().replace(OLD_NAME, NEW_NAME).encode()
    return {"files": [(io.BytesIO(data), name) for name, data in files.items()]}


def _config(page: Any) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="editor-config">(.*?)</script>', page.get_data(as_text=True))
    assert found, "the editor page carries its configuration"
    return dict(json.loads(found.group(1)))


def _version_rows(html: str) -> list[int]:
    return [int(v) for v in re.findall(r'<tr data-version="(\d+)">', html)]


def _english(as_user: Any, username: str = "owner1") -> Pages:
    signed_in: Pages = as_user(username)
    signed_in.post("/language", {"language": "en", "next": "/editor"})
    return signed_in


def _upload(owner: Pages, data: dict[str, Any]) -> Any:
    return owner.post("/editor/upload", data, content_type="multipart/form-data")


def test_anonymous_visitors_are_sent_to_sign_in(pages: Pages) -> None:
    for path in OWNER_PAGES:
        response = pages.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("username", ["desk1", "auditor1"])
def test_other_roles_get_403(as_user: Any, username: str) -> None:
    other = as_user(username)
    for path in OWNER_PAGES:
        response = other.get(path)
        assert response.status_code == 403, path
        assert "process_owner" in response.get_data(as_text=True)
    assert _upload(other, _changed_service_request()).status_code == 403
    assert 'href="/editor"' not in other.get("/inbox").get_data(as_text=True) or username == "admin"


@pytest.mark.parametrize("username", ["owner1", "admin"])
def test_owner_and_admin_see_the_processes(as_user: Any, username: str) -> None:
    page = _english(as_user, username).get("/editor")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for key in ("service_request", "change_request", "procurement_request", "emergency_drill"):
        assert f'data-key="{key}"' in html
        assert f'href="/editor/{key}"' in html and f'href="/editor/{key}/versions"' in html
    assert 'enctype="multipart/form-data"' in html and 'name="csrf_token"' in html


def test_the_editor_page_carries_the_version_and_its_dmn_files(as_user: Any) -> None:
    page = as_user("owner1").get("/editor/service_request")
    assert page.status_code == 200
    config = _config(page)
    assert config["key"] == "service_request" and config["version"] == config["latestVersion"] == 1
    assert config["mainFile"] == "service_request.bpmn"
    assert {"service_priority.dmn", "service_sla.dmn"} <= set(config["otherFiles"])
    assert "service_request.bpmn" not in config["otherFiles"]
    assert config["xmlUrl"] == "/api/process-definitions/service_request/xml?version=1"
    assert config["validateUrl"] == "/api/process-definitions/validate"
    html = page.get_data(as_text=True)
    assert 'name="csrf-token"' in html and 'id="editor-i18n"' in html and "build/editor.js" in html


def test_unknown_processes_and_versions_are_404(as_user: Any) -> None:
    owner = _english(as_user)
    for path in ["/editor/nope", "/editor/nope/versions", "/editor/service_request?version=99",
                 "/editor/service_request/download?version=99", "/editor/service_request/compare?a=1&b=99",
                 "/editor/nope/compare"]:
        response = owner.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "text/html"


def test_upload_without_the_csrf_token_is_refused(as_user: Any, site: Flask) -> None:
    owner = _english(as_user)
    response = owner.post("/editor/upload", _changed_service_request(), csrf=False, content_type="multipart/form-data")
    assert response.status_code == 400
    assert site.extensions["opsflow"].engine.definitions.get("service_request").version == 1


def test_upload_deploys_a_new_version_and_the_versions_list_grows(as_user: Any) -> None:
    owner = _english(as_user)
    response = _upload(owner, _changed_service_request())
    assert response.status_code == 302
    assert response.headers["Location"] == "/editor/service_request/versions"
    html = owner.get(response.headers["Location"]).get_data(as_text=True)
    assert "deployed as version 2" in html
    assert _version_rows(html) == [2, 1]
    row = html[html.index('<tr data-version="2">'):html.index('<tr data-version="1">')]
    assert "owner1" in row and "latest" in row
    assert 'href="/editor/service_request?version=1"' in html
    assert 'href="/editor/service_request/download?version=2"' in html
    assert 'href="/editor/service_request/compare?a=1&amp;b=2"' in html
    again = owner.get(_upload(owner, _changed_service_request()).headers["Location"]).get_data(as_text=True)
    assert "Unchanged, no new version:" in again and "service_request v2" in again
    assert _version_rows(owner.get("/editor/service_request/versions").get_data(as_text=True)) == [2, 1]


def test_versions_count_the_cases_on_each(as_user: Any, site: Flask) -> None:
    engine = site.extensions["opsflow"].engine
    engine.instances.start("emergency_drill", {}, Actor.system())
    engine.instances.start("emergency_drill", {}, Actor.system())
    html = as_user("owner1").get("/editor/emergency_drill/versions").get_data(as_text=True)
    assert re.search(r'<td class="cases" data-count="2">2</td>', html)


def test_upload_problems_are_shown_readably_and_escaped(as_user: Any) -> None:
    owner = _english(as_user)
    refused = _upload(owner, {"files": [(io.BytesIO((MIWG / "A.1.0.bpmn").read_bytes()), "A.1.0.bpmn")]})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "The files cannot be deployed" in html and "nothing to deploy" not in html  # all said by the page
    assert "No executable process: WFP-6- is marked isExecutable=&#34;false&#34; (tick “Executable”" in html
    wrong = _upload(owner, {"files": [(io.BytesIO(b"MZ"), "<img src=x onerror=alert(1)>.exe")]})
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 422
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;.exe" in html
    assert "only .bpmn and .dmn files can be deployed" in html
    missing_dmn = (PROCESSES / "service_request.bpmn").read_bytes()
    html = _upload(owner, {"files": [(io.BytesIO(missing_dmn), "service_request.bpmn")]}).get_data(as_text=True)
    assert "determine_priority" in html and "service_priority" in html


def test_upload_problems_of_opsflows_own_rules_are_said_in_the_pages_language(as_user: Any) -> None:
    owner: Pages = as_user("owner1")
    owner.post("/language", {"language": "zh", "next": "/editor"})
    bpmn = (PROCESSES / "change_request.bpmn").read_text(encoding="utf-8")
    bpmn = re.sub(r'camunda:formKey="[^"]+"', 'camunda:formKey="no_such_form"', bpmn, count=1)
    bpmn = bpmn.replace("<bpmn:exclusiveGateway ", "<bpmn:complexGateway ", 1).replace(
        "</bpmn:exclusiveGateway>", "</bpmn:complexGateway>", 1)
    refused = _upload(owner, {"files": [(io.BytesIO(bpmn.encode()), "change_request.bpmn")]})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "不支持复杂网关：请改用包容网关或排他网关。" in html and "not supported by the engine" not in html
    assert "the bundle uses elements" not in html  # the English summary is left out when all is said in Chinese

    bpmn = re.sub(r'camunda:formKey="[^"]+"', 'camunda:formKey="no_such_form"',
                  (PROCESSES / "change_request.bpmn").read_text(encoding="utf-8"), count=1)
    html = _upload(owner, {"files": [(io.BytesIO(bpmn.encode()), "change_request.bpmn")]}).get_data(as_text=True)
    assert "表单“no_such_form”在 forms/ 中不存在。" in html and "does not exist in forms/" not in html
    assert "文件无法部署：" in html and "refers to forms that do not exist" not in html

    not_executable = (PROCESSES / "change_request.bpmn").read_text(encoding="utf-8").replace(
        'isExecutable="true"', 'isExecutable="false"')
    html = _upload(owner, {"files": [(io.BytesIO(not_executable.encode()), "change_request.bpmn")]}).get_data(
        as_text=True)
    assert "没有可执行的流程：change_request 标记为 isExecutable=" in html
    assert "nothing to deploy" not in html and "no executable process" not in html


def test_upload_problems_found_by_spiffworkflow_and_the_schema_are_said_in_the_pages_language(as_user: Any) -> None:
    owner: Pages = as_user("owner1")
    owner.post("/language", {"language": "zh", "next": "/editor"})
    bpmn = (PROCESSES / "change_request.bpmn").read_text(encoding="utf-8").replace(
        "<bpmn:userTask ", '<bpmn:userTask priority="high" ', 1)
    refused = _upload(owner, {"files": [(io.BytesIO(bpmn.encode()), "change_request.bpmn")]})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "BPMN 2.0 架构不允许 &lt;userTask&gt; 带有属性 priority。" in html and "is not allowed" not in html

    no_start = re.sub(r"<bpmn:startEvent .*?</bpmn:startEvent>", "",
                      (PROCESSES / "change_request.bpmn").read_text(encoding="utf-8"), count=1, flags=re.S)
    html = _upload(owner, {"files": [(io.BytesIO(no_start.encode()), "change_request.bpmn")]}).get_data(as_text=True)
    assert "流程没有开始事件。" in html and "No start event found" not in html


def test_download_is_the_verbatim_file_of_the_version(as_user: Any) -> None:
    owner = _english(as_user)
    _upload(owner, _changed_service_request())
    first = owner.get("/editor/service_request/download?version=1")
    assert first.status_code == 200 and first.mimetype == "application/xml"
    assert first.headers["Content-Disposition"] == 'attachment; filename="service_request-v1.bpmn"'
    # an uploaded document: opened in a browser it runs nothing
    assert first.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert first.data == (PROCESSES / "service_request.bpmn").read_bytes()
    assert NEW_NAME.encode() in owner.get("/editor/service_request/download").data


def test_compare_shows_two_viewers_and_marks_the_changed_task(as_user: Any) -> None:
    owner = _english(as_user)
    _upload(owner, _changed_service_request())
    page = owner.get("/editor/service_request/compare")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-xml-url="/api/process-definitions/service_request/xml?version=1"' in html
    assert 'data-xml-url="/api/process-definitions/service_request/xml?version=2"' in html
    assert "build/viewer.js" in html
    marks = [json.loads(m) for m in re.findall(r"data-marks='([^']*)'", html)]
    assert marks == [{"highlight": ["customer_callback"]}, {"highlight": ["customer_callback"]}]
    assert '<dd class="diff-changed">' in html and "Customer callback by phone" in html
    same = owner.get("/editor/service_request/compare?a=2&b=2").get_data(as_text=True)
    assert "only the layout may differ" in same


def test_compare_lists_added_and_removed_elements() -> None:
    from api.web.editor_versions import difference

    old = (PROCESSES / "service_request.bpmn").read_text(encoding="utf-8")
    new = old.replace('id="customer_callback"', 'id="customer_call"')
    moved = re.sub(r'(<dc:Bounds x=")(\d+)', lambda m: m.group(1) + str(int(m.group(2)) + 5), old, count=1)
    diff = difference(old, new)
    assert "customer_call" in diff.added and "customer_callback" in diff.removed
    assert diff.names["customer_call"] == OLD_NAME
    assert (difference(old, moved).added, difference(old, moved).changed) == ([], [])


def test_pages_are_in_chinese_for_chinese_users(as_user: Any) -> None:
    owner = as_user("owner1")
    owner.post("/language", {"language": "zh", "next": "/editor"})
    index = owner.get("/editor").get_data(as_text=True)
    assert "上传流程图" in index and "部署" in index
    editor = owner.get("/editor/service_request").get_data(as_text=True)
    assert "另存为新版本" in editor and "下载 XML" in editor
    strings = json.loads(re.search(r'id="editor-i18n">(.*?)</script>', editor).group(1))  # type: ignore[union-attr]
    assert strings["unsaved"] == "未保存的更改"
    assert "{version}" in strings["conflict"] and "{who}" in strings["conflict"]
    versions = owner.get("/editor/service_request/versions").get_data(as_text=True)
    assert "部署人" in versions and "客户回访" not in versions.split("<table")[0].split("<h1>")[0]
