"""The API's interactive documentation works offline (Swagger UI is served by opsflow itself), for people signed in."""

from __future__ import annotations

from tests.api.conftest import PASSWORD  # the password of every test user


def test_the_api_docs_page_lists_the_operations_from_local_assets(browser_page) -> None:
    docs = browser_page()
    outside: list[str] = []
    docs.page.on("request", lambda request: request.url.startswith(docs.base_url) or outside.append(request.url))
    docs.goto("/api/docs")
    assert "/login?next=" in docs.page.url  # a visitor is asked to sign in first, and comes back
    docs.page.fill("input[name=username]", "desk1")
    docs.page.fill("input[name=password]", PASSWORD)
    docs.page.click("button[type=submit].primary")
    docs.page.wait_for_url("**/api/docs")
    docs.page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = docs.page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/tasks/{task_id}/complete" in p.replace("\u200b", "") for p in paths), paths[:5]
    assert outside == [] and docs.errors == []
