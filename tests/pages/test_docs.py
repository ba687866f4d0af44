"""The API docs page renders in a real browser with no network beyond loopback."""


def test_swagger_ui_renders_offline(live_server, offline_page):
    errors: list[str] = []
    offline_page.on("pageerror", lambda e: errors.append(str(e)))
    offline_page.goto(live_server + "/docs")
    offline_page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
    operations = offline_page.locator(".swagger-ui .opblock").count()
    assert operations >= 8  # health, token, me, locate, incidents…
    assert "/api/v1/locate" in offline_page.content()
    assert offline_page.outside_requests == []
    assert errors == []
