"""Security headers, cookies, no inline script on any page, session timeouts and ended sessions."""

from datetime import timedelta
from html.parser import HTMLParser

import pytest

from app import create_app
from app.accounts import operations as accounts
from app.extensions import db
from app.models.base import utcnow
from tests import factories
from tests.conftest import age_session, database_url, login, session_row
from tests.report_summary import record
from tests.security_support import admitted_roles, client_for, fill, routes
from tests.world import build_world

STRONG_SECRET = "a-long-random-production-secret-0123456789"


def production_app(**overrides):
    config = {
        "SECRET_KEY": STRONG_SECRET,
        "ENCRYPTION_KEYS": "0" * 43 + "=",  # a valid Fernet key
        "SQLALCHEMY_DATABASE_URI": database_url().replace("postgresql://", "postgresql+psycopg://", 1),
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        "JSON_LOGS": False,
        **overrides,
    }
    return create_app("production", **config)


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in policy.split(";")) if d}


def test_every_response_carries_the_security_headers(client):
    for path in ("/auth/login", "/healthz", "/no-such-page", "/static/js/app.js"):
        response = client.get(path)
        csp = csp_directives(response)
        assert csp["script-src"] == ["'self'"], path  # own scripts only: no inline, no eval, no CDN
        assert csp["frame-ancestors"] == ["'none'"], path
        assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'self'"], path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
        assert response.headers["X-Request-ID"], path
        assert "Strict-Transport-Security" not in response.headers  # plain http in development and tests


def test_production_adds_hsts_and_secure_cookies(app):
    with app.app_context():
        user = factories.make_user("admin")
        db.session.commit()
        email = user.email
    prod = production_app(WTF_CSRF_ENABLED=False)
    client = prod.test_client()
    response = client.post(
        "/auth/login", data={"email": email, "password": factories.PASSWORD}, base_url="https://leadflow.test"
    )
    assert response.status_code == 302
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_session_cookie_is_httponly_and_samesite_lax(app, client):
    with app.app_context():
        user = factories.make_user("admin")
        db.session.commit()
        email = user.email
    response = client.post("/auth/login", data={"email": email, "password": factories.PASSWORD})
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    assert any(cookie.startswith("session=") for cookie in cookies)
    for cookie in cookies:  # the session and the known-device cookie alike
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Secure" not in cookie  # development runs on plain http; production sets Secure (test above)


class InlineScriptFinder(HTMLParser):
    """Everything a strict CSP would block or that invites script injection."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on") or name.startswith("hx-on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"<{tag} {name}=javascript:...>")
        if tag == "script":
            src = dict(attrs).get("src")
            if not src:
                self.problems.append("<script> without src")
            elif not src.startswith("/static/"):
                self.problems.append(f"<script src={src}> not served by the app")


def test_no_page_has_inline_script_or_event_handler_attributes(app):
    """Fetch every GET page of the permission table as each role it admits, full page and HTMX partial."""
    world = build_world()
    pages = 0
    problems = []
    for _method, endpoint, path, expected in routes({"GET"}):
        for role in admitted_roles(app, endpoint, expected):
            client = client_for(app, world, role)
            for headers in ({}, {"HX-Request": "true"}):
                response = client.get(fill(path, world), headers=headers)
                assert response.status_code < 500, f"{endpoint} as {role}: {response.status_code}"
                assert "script-src 'self';" in response.headers["Content-Security-Policy"]
                if response.mimetype != "text/html":
                    continue
                finder = InlineScriptFinder()
                finder.feed(response.get_data(as_text=True))
                pages += 1
                problems += [f"{endpoint} as {role}{' (htmx)' if headers else ''}: {p}" for p in finder.problems]
    record("security_headers", html_pages_checked=pages, inline_script_findings=len(problems))
    print(f"HTML pages checked for inline script: {pages}, findings: {len(problems)}")
    assert pages > 0
    assert not problems, "\n".join(problems)


def test_htmx_is_configured_without_eval(client):
    body = client.get("/auth/login").get_data(as_text=True)
    assert '"allowEval":false' in body  # hx-on and js: expressions would need eval, which the CSP refuses


def test_the_finder_flags_what_it_should():
    finder = InlineScriptFinder()
    finder.feed('<script>alert(1)</script><a href="javascript:x()">x</a><button onclick="x()">b</button>')
    finder.feed('<div hx-on:click="x()"></div><script src="https://cdn.example/x.js"></script>')
    assert len(finder.problems) == 5


def _set_session_times(client, login_ago: timedelta, seen_ago: timedelta):
    age_session(client, created_ago=login_ago, seen_ago=seen_ago)


def test_idle_timeout_ends_the_session(app):
    user = factories.make_user("admin")
    db.session.commit()
    client = login(app.test_client(), user)
    idle = app.config["SESSION_IDLE_TIMEOUT"]
    _set_session_times(client, login_ago=idle - timedelta(minutes=5), seen_ago=idle - timedelta(minutes=1))
    assert client.get("/admin/").status_code == 200  # just inside the idle window: still in, and refreshed
    assert utcnow() - session_row(client).last_seen_at < timedelta(seconds=60)
    _set_session_times(client, login_ago=idle + timedelta(minutes=5), seen_ago=idle + timedelta(seconds=1))
    response = client.get("/admin/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    assert client.get("/admin/").status_code == 302  # the session is gone, not just refused once


def test_absolute_timeout_ends_an_active_session(app):
    user = factories.make_user("admin")
    db.session.commit()
    client = login(app.test_client(), user)
    absolute = app.config["SESSION_ABSOLUTE_TIMEOUT"]
    _set_session_times(client, login_ago=absolute + timedelta(seconds=1), seen_ago=timedelta(seconds=5))
    response = client.get("/admin/", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].endswith("/auth/login")
    assert client.get("/admin/").status_code == 302


def test_suspension_ends_the_partners_open_sessions(app):
    partner = factories.make_partner()
    admin = factories.make_user("admin")
    db.session.commit()
    cp_client = login(app.test_client(), partner.user)
    assert cp_client.get("/cp/").status_code == 200
    admin_client = login(app.test_client(), admin)
    assert admin_client.post(f"/admin/partners/{partner.id}/suspend").status_code == 302
    response = cp_client.get("/cp/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    db.session.expire_all()
    accounts.set_suspended(db.session.get(type(partner), partner.id), admin, False)
    db.session.commit()
    assert cp_client.get("/cp/").status_code == 302  # reactivation does not revive the old cookie


def test_password_change_ends_other_sessions_but_keeps_the_current_one(app):
    partner = factories.make_partner()
    db.session.commit()
    here, elsewhere = login(app.test_client(), partner.user), login(app.test_client(), partner.user)
    assert elsewhere.get("/cp/").status_code == 200
    response = here.post(
        "/auth/change-password",
        data={
            "current_password": factories.PASSWORD,
            "new_password": "a-brand-new-passphrase-42",
            "confirm": "a-brand-new-passphrase-42",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert here.get("/cp/").status_code == 200
    stale = elsewhere.get("/cp/")
    assert stale.status_code == 302 and "/auth/login" in stale.headers["Location"]


def test_websocket_handshake_checks_the_origin(app):
    """A real handshake over a socket: a page on another site (or with no Origin) cannot open the live channel."""
    import threading

    import websocket
    from werkzeug.serving import make_server

    user = factories.make_user("admin")
    db.session.commit()
    cookie = login(app.test_client(), user).get_cookie("session").value
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"127.0.0.1:{server.server_port}"
    try:
        for origin in ("http://evil.example", f"http://{base}.evil.example", None):
            with pytest.raises(websocket.WebSocketBadStatusException) as refused:
                websocket.create_connection(
                    f"ws://{base}/ws/notifications",
                    cookie=f"session={cookie}",
                    origin=origin,
                    suppress_origin=origin is None,
                    timeout=5,
                )
            assert refused.value.status_code == 403, origin
        same_site = websocket.create_connection(
            f"ws://{base}/ws/notifications", cookie=f"session={cookie}", origin=f"http://{base}", timeout=5
        )
        try:
            assert 'id="notification-badge"' in same_site.recv()
        finally:
            same_site.close()
    finally:
        server.shutdown()
