"""The API reference (/api/docs): Swagger UI from the vendored bundle renders the live OpenAPI document, with no
request leaving for a CDN and nothing refused by the page's Content-Security-Policy."""

from urllib.parse import urlparse


def test_the_reference_renders_every_operation_from_vendored_assets(new_page, live_server):
    page = new_page()
    requested, problems = [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto("/api/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/leads" in paths and "/api/v1/auth/token" in paths
    host = urlparse(live_server).netloc
    assert all(urlparse(url).netloc == host for url in requested if url.startswith("http")), requested
    assert not [text for text in problems if "Content Security Policy" in text], problems
