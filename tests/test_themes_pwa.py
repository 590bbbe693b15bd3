"""Light and dark themes remembered per user, and installing the app: the manifest, the service worker, the offline
page (issue 20 item 3). The browser half (the worker at work, the system setting) is tests/browser/test_pwa.py."""

import json
import re

import pytest

from app.extensions import db
from app.models import User
from tests import factories
from tests.conftest import login, make_app


def _html_tag(response) -> str:
    return re.search(r"<html[^>]*>", response.get_data(as_text=True)).group(0)


def _theme_of(user) -> str:
    db.session.expire_all()
    return db.session.get(User, user.id).theme


# -- the switch -----------------------------------------------------------------------------------------------------


def test_a_new_user_follows_the_system_setting(login_as):
    client = login_as("admin")
    tag = _html_tag(client.get("/admin/"))
    assert 'data-theme-choice="auto"' in tag
    assert "data-bs-theme" not in tag  # theme.js picks light or dark from prefers-color-scheme before the first paint
    assert "data-theme-user" in tag


def test_the_choice_is_remembered_for_the_user_and_drawn_by_the_server(login_as):
    partner = factories.make_partner()
    db.session.commit()
    client = login_as(partner.user)
    answer = client.post("/account/appearance", data={"theme": "dark", "next": "/cp/"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/cp/"
    assert _theme_of(partner.user) == "dark"
    tag = _html_tag(client.get("/cp/"))
    assert 'data-bs-theme="dark"' in tag and 'data-theme-choice="dark"' in tag
    # The choice belongs to the person, not the browser: a new login elsewhere is dark too.
    elsewhere = login(client.application.test_client(), partner.user)
    assert 'data-bs-theme="dark"' in _html_tag(elsewhere.get("/cp/"))


def test_the_user_menu_switch_marks_the_current_choice(login_as):
    user = factories.make_user("admin", theme="light")
    db.session.commit()
    page = login_as(user).get("/admin/").get_data(as_text=True)
    switch = page[page.index("data-theme-switch") :]
    switch = switch[: switch.index("</form>")]
    assert re.search(r'value="light"\s+aria-pressed="true"', switch)
    assert re.search(r'value="dark"\s+aria-pressed="false"', switch)
    assert 'name="csrf_token"' in switch and 'name="next" value="/admin/"' in switch


def test_with_htmx_the_answer_is_an_event_the_page_applies(login_as):
    user = factories.make_user("super_admin")
    db.session.commit()
    client = login_as(user)
    answer = client.post("/account/appearance", data={"theme": "light"}, headers={"HX-Request": "true"})
    assert answer.status_code == 204
    assert json.loads(answer.headers["HX-Trigger"]) == {"themeChanged": {"theme": "light"}}
    assert _theme_of(user) == "light"


@pytest.mark.parametrize("value", ["", "purple", "dark;", "x" * 500, "AUTO"])
def test_an_unknown_theme_is_refused_beside_the_field_and_nothing_changes(login_as, value):
    user = factories.make_user("admin", theme="dark")
    db.session.commit()
    answer = login_as(user).post("/account/appearance", data={"theme": value})
    assert answer.status_code == 422
    body = answer.get_data(as_text=True)
    assert 'id="theme-error"' in body and "Choose System, Light or Dark." in body
    assert _theme_of(user) == "dark"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"])
def test_the_way_back_stays_on_this_site(login_as, target):
    client = login_as("admin")
    answer = client.post("/account/appearance", data={"theme": "dark", "next": target})
    assert answer.status_code == 303 and answer.headers["Location"] == "/account/appearance"


def test_the_appearance_page_is_a_form_with_labels(login_as):
    user = factories.make_user("admin", theme="dark")
    db.session.commit()
    body = login_as(user).get("/account/appearance").get_data(as_text=True)
    assert "<legend" in body
    for value, label in (("auto", "System"), ("light", "Light"), ("dark", "Dark")):
        field = re.search(rf'<input[^>]*value="{value}"[^>]*>', body).group(0)
        field_id = re.search(r'id="([^"]+)"', field).group(1)
        assert f'<label class="form-check-label" for="{field_id}">{label}</label>' in body
        assert ("checked" in field) == (value == "dark")


def test_each_user_has_their_own_theme(login_as):
    dark, light = factories.make_user("admin", theme="dark"), factories.make_user("admin", theme="light")
    db.session.commit()
    assert 'data-bs-theme="dark"' in _html_tag(login_as(dark).get("/admin/"))
    assert 'data-bs-theme="light"' in _html_tag(login_as(light).get("/admin/"))


def test_anonymous_pages_follow_the_system(client):
    tag = _html_tag(client.get("/auth/login"))
    assert 'data-theme-choice="auto"' in tag and "data-bs-theme" not in tag and "data-theme-user" not in tag


def test_the_switch_needs_the_csrf_token():
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        user = factories.make_user("admin")
        db.session.commit()
        client = login(app.test_client(), user)
        assert client.post("/account/appearance", data={"theme": "dark"}).status_code == 400
        page = client.get("/account/appearance").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        assert client.post("/account/appearance", data={"theme": "dark", "csrf_token": token}).status_code == 303
        assert _theme_of(user) == "dark"


def _statements(client, path) -> list[str]:
    import sqlalchemy as sa

    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert client.get(path).status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)
    return statements


def test_the_theme_adds_no_query_to_a_page(app, login_as, monkeypatch):
    """The layout reads the theme from the user row Flask-Login loaded: a dark page makes exactly the statements
    a page whose layout knows nothing of themes makes."""
    user = factories.make_user("admin", theme="dark")
    db.session.commit()
    client = login_as(user)
    client.get("/admin/")  # warm: statement caches, first-request work
    with_theme = _statements(client, "/admin/")
    monkeypatch.setitem(app.jinja_env.globals, "current_theme", lambda: ("auto", False))
    without_theme = _statements(client, "/admin/")
    assert len(with_theme) == len(without_theme)
    monkeypatch.undo()
    assert 'data-bs-theme="dark"' in _html_tag(client.get("/admin/"))


# -- installing the app ---------------------------------------------------------------------------------------------


def test_the_manifest_names_the_app_its_icons_and_where_it_starts(client, app):
    answer = client.get("/manifest.webmanifest")
    assert answer.status_code == 200 and answer.mimetype == "application/manifest+json"
    manifest = json.loads(answer.data)
    assert manifest["name"] == "LeadFlow PM" and manifest["short_name"]
    assert manifest["start_url"] == "/" and manifest["scope"] == "/" and manifest["display"] == "standalone"
    assert manifest["theme_color"].startswith("#") and manifest["background_color"].startswith("#")
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    from PIL import Image

    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.mimetype == "image/png"
        with Image.open(app.static_folder + icon["src"].removeprefix("/static")) as png:
            assert f"{png.width}x{png.height}" == icon["sizes"]


def test_every_page_links_the_manifest_and_registers_the_worker(client, login_as):
    for page in (client.get("/auth/login"), login_as("admin").get("/admin/")):
        body = page.get_data(as_text=True)
        assert '<link rel="manifest" href="/manifest.webmanifest">' in body
        assert 'data-service-worker="/sw.js"' in body and "/static/js/pwa.js" in body


def test_the_service_worker_is_served_from_the_root_and_never_cached_stale(client):
    answer = client.get("/sw.js")
    assert answer.status_code == 200 and answer.mimetype == "text/javascript"
    assert answer.headers["Cache-Control"] == "no-cache"
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]  # the app's strict CSP, unchanged
    body = answer.get_data(as_text=True)
    settings = json.loads(body.split("\n", 1)[0].removeprefix("self.LEADFLOW_SW = ").removesuffix(";"))
    assert settings["offline"] == "/offline" and re.fullmatch(r"[0-9a-f]{16}", settings["version"])
    shell = settings["shell"]
    for asset in ("/static/css/bootstrap.min.css", "/static/css/theme.css", "/static/js/htmx.min.js",
                  "/static/js/theme.js", "/static/icons/icon-192.png"):  # fmt: skip
        assert asset in shell
    # The shell is static files only: no page, no fragment, nothing with money is ever stored.
    assert all(url.startswith("/static/") for url in shell)
    assert not [url for url in shell if url.endswith((".html", "/"))]
    assert "/static/vendor/" not in " ".join(shell)
    assert 'request.mode === "navigate"' in body and "fetch(request).catch(offlinePage)" in body
    # The browser's update checks: unchanged, a bodiless 304.
    assert client.get("/sw.js", headers={"If-None-Match": answer.headers["ETag"]}).status_code == 304


def test_the_worker_version_follows_the_shell_bytes(app, tmp_path):
    from app.portals.public import pwa

    for folder in ("css", "js"):
        (tmp_path / folder).mkdir()
    (tmp_path / "css" / "a.css").write_text("body{}")
    (tmp_path / "js" / "a.js").write_text("1")
    (tmp_path / "sw.js").write_text("")
    (tmp_path / "offline.html").write_text("offline")
    files, first, _code = pwa._shell(str(tmp_path), str(tmp_path / "offline.html"))
    assert files == ("css/a.css", "js/a.js")
    pwa._shell.cache_clear()
    (tmp_path / "css" / "a.css").write_text("body{color:red}")
    second = pwa._shell(str(tmp_path), str(tmp_path / "offline.html"))[1]
    assert second != first
    pwa._shell.cache_clear()
    (tmp_path / "offline.html").write_text("changed")
    assert pwa._shell(str(tmp_path), str(tmp_path / "offline.html"))[1] not in (first, second)
    pwa._shell.cache_clear()


def test_the_offline_page_holds_nothing_of_an_account(login_as):
    client = login_as("admin")
    answer = client.get("/offline")
    assert answer.status_code == 200
    body = answer.get_data(as_text=True)
    assert "You are offline" in body and 'href="">Try again</a>' in body
    assert "csrf" not in body.lower() and "@" not in body  # no token, no email: the cached copy is for anyone
    assert 'data-theme-choice="remembered"' in _html_tag(answer)
