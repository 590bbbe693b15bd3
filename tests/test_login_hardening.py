"""Logins under abuse: server-side logout, an atomic throttle that concurrency cannot overrun, the owner's own
browser never locked out, limits that survive a Redis outage, and no timing tell for unknown emails."""

import json
import logging
import statistics
import threading
import time

import pytest
import sqlalchemy as sa

from app.access import public
from app.accounts import throttle
from app.extensions import db
from app.models import UserSession
from tests import factories
from tests.conftest import make_app, redis_url, requires_redis
from tests.report_summary import record

DEAD_REDIS = "redis://127.0.0.1:1/0"


def log_in(client, email, password=factories.PASSWORD):
    return client.post("/auth/login", data={"email": email, "password": password})


def _partner(app, email):
    with app.app_context():
        factories.make_partner(email=email)
        db.session.commit()


def test_a_cookie_copied_before_logout_is_worthless_after_it(app):
    _partner(app, "copy@partner.test")
    browser = app.test_client()
    assert log_in(browser, "copy@partner.test").status_code == 302
    stolen = browser.get_cookie("session").value
    assert browser.get("/cp/profile").status_code == 200
    assert browser.post("/auth/logout").status_code == 302

    thief = app.test_client()
    thief.set_cookie("session", stolen)
    for path in ("/cp/profile", "/cp/", "/notifications/badge"):
        response = thief.get(path)
        assert response.status_code in (302, 401), path
    assert thief.get("/cp/profile").headers["Location"].startswith("/auth/login")
    with app.app_context():
        (row,) = db.session.scalars(sa.select(UserSession)).all()
        assert row.ended_at is not None


def test_each_login_is_its_own_session_and_logout_ends_only_that_one(app):
    _partner(app, "two@partner.test")
    laptop, phone = app.test_client(), app.test_client()
    assert log_in(laptop, "two@partner.test").status_code == 302
    assert log_in(phone, "two@partner.test").status_code == 302
    laptop.post("/auth/logout")
    assert laptop.get("/cp/").status_code == 302
    assert phone.get("/cp/").status_code == 200


def test_parallel_guesses_never_get_more_checks_than_the_limit(app):
    _partner(app, "race@partner.test")
    codes = _parallel_guesses(app, "race@partner.test", attempts=100)
    checked = codes.count(401)
    record("login_throttle", parallel_attempts=100, checked=checked, allowed=10)
    assert checked <= 10 and codes.count(429) == 100 - checked
    assert set(codes) <= {401, 429}


@requires_redis
def test_parallel_guesses_through_two_processes_sharing_redis_stay_within_the_limit():
    import redis

    store = redis.Redis.from_url(redis_url())
    for key in store.scan_iter("LIMITS*"):
        store.delete(key)
    first, second = make_app(RATELIMIT_STORAGE_URI=redis_url()), make_app(RATELIMIT_STORAGE_URI=redis_url())
    _partner(first, "shared-race@partner.test")
    codes = []
    threads = [
        threading.Thread(target=lambda a=a: codes.extend(_parallel_guesses(a, "shared-race@partner.test", 50)))
        for a in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    record("login_throttle", parallel_attempts=100, checked=codes.count(401), allowed=10)
    assert codes.count(401) <= 10 and len(codes) == 100
    for key in store.scan_iter("LIMITS*"):
        store.delete(key)


def _parallel_guesses(app, email, attempts, batch=20):
    """`attempts` wrong passwords, `batch` at a time released together by a barrier; their status codes."""
    codes = []

    def guess(n, start):
        client = app.test_client()
        start.wait(timeout=10)
        codes.append(log_in(client, email, f"guess-{n}").status_code)

    for first in range(0, attempts, batch):
        numbers = range(first, min(first + batch, attempts))
        start = threading.Barrier(len(numbers))
        threads = [threading.Thread(target=guess, args=(n, start)) for n in numbers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return codes


def test_the_owners_own_browser_is_not_locked_out_by_guesses_from_elsewhere(app):
    _partner(app, "owner@partner.test")
    owners_browser = app.test_client()
    assert log_in(owners_browser, "owner@partner.test").status_code == 302  # now a known device
    owners_browser.post("/auth/logout")

    attacker = app.test_client()
    codes = [log_in(attacker, "owner@partner.test", f"guess-{n}").status_code for n in range(15)]
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
    assert log_in(app.test_client(), "owner@partner.test").status_code == 429  # an unknown browser waits
    assert log_in(owners_browser, "owner@partner.test").status_code == 302  # the owner's does not
    record("login_throttle", owner_locked_out=0)


def test_a_forged_or_foreign_device_cookie_gives_no_separate_bucket(app):
    _partner(app, "victim@partner.test")
    _partner(app, "mallory@partner.test")
    mallory = app.test_client()
    assert log_in(mallory, "mallory@partner.test").status_code == 302  # a device cookie for her own account
    mallory.post("/auth/logout")
    codes = [log_in(mallory, "victim@partner.test", f"guess-{n}").status_code for n in range(12)]
    assert codes.count(401) == 10 and codes[-1] == 429
    forged = app.test_client()
    forged.set_cookie(throttle.DEVICE_COOKIE, "eyJhY2NvdW50IjoieCJ9.forged")
    assert log_in(forged, "victim@partner.test", "guess").status_code == 429


def test_a_lock_out_ends_with_its_window_and_says_when():
    app = make_app(LOGIN_RATE_LIMIT="3 per 2 seconds")
    _partner(app, "window@partner.test")
    client = app.test_client()
    codes = [log_in(client, "window@partner.test", "wrong-password").status_code for _ in range(3)]
    blocked = log_in(client, "window@partner.test")
    assert codes == [401] * 3 and blocked.status_code == 429
    assert 1 <= int(blocked.headers["Retry-After"]) <= 3
    time.sleep(2.2)
    assert log_in(client, "window@partner.test").status_code == 302


def test_one_address_spraying_many_accounts_is_stopped():
    app = make_app(LOGIN_ADDRESS_RATE_LIMIT="5 per minute")
    client = app.test_client()
    codes = [log_in(client, f"nobody{n}@partner.test", "whatever-pass").status_code for n in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]


def test_logins_work_and_are_still_limited_with_redis_down(caplog):
    app = make_app(RATELIMIT_STORAGE_URI=DEAD_REDIS, REDIS_URL=DEAD_REDIS)
    _partner(app, "outage@partner.test")
    with caplog.at_level(logging.WARNING):
        assert log_in(app.test_client(), "outage@partner.test").status_code == 302
    assert "counting in this process" in caplog.text
    client = app.test_client()
    codes = [log_in(client, "outage@partner.test", f"guess-{n}").status_code for n in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    record("login_throttle", logins_with_redis_down=12, server_errors=0)


def test_refusing_an_unknown_email_takes_as_long_as_a_wrong_password():
    app = make_app(
        PASSWORD_HASH_FAST=False, LOGIN_RATE_LIMIT="1000 per minute", LOGIN_ADDRESS_RATE_LIMIT="1000 per minute"
    )
    _partner(app, "known@partner.test")
    client = app.test_client()

    def timed(email):
        started = time.perf_counter()
        assert log_in(client, email, "not-the-password").status_code == 401
        return time.perf_counter() - started

    timed("known@partner.test")  # warm up
    known = statistics.median(timed("known@partner.test") for _ in range(5))
    unknown = statistics.median(timed(f"ghost{n}@partner.test") for n in range(5))
    record("login_timing", known_ms=round(known * 1000), unknown_ms=round(unknown * 1000))
    assert 0.6 < unknown / known < 1.6


@pytest.fixture
def json_log_app():
    app = make_app(JSON_LOGS=True, PROPAGATE_EXCEPTIONS=False)

    @public
    def explode():
        raise RuntimeError("boom")

    app.add_url_rule("/test-explode", "test_explode", explode)
    return app


def test_a_server_error_still_leaves_its_access_log_line(json_log_app, caplog):
    with caplog.at_level(logging.INFO, logger="leadflow.request"):
        response = json_log_app.test_client().get("/test-explode")
    assert response.status_code == 500
    lines = [r for r in caplog.records if getattr(r, "fields", None)]
    # Every record carries the request's log context; the access line is the one with a status.
    assert any(r.fields.get("status") == 500 and r.fields.get("path") == "/test-explode" for r in lines), json.dumps(
        [getattr(r, "fields", None) for r in caplog.records], default=str
    )


def test_behind_a_trusted_proxy_each_client_address_has_its_own_bucket():
    app = make_app(TRUSTED_PROXIES=1, LOGIN_ADDRESS_RATE_LIMIT="3 per minute")
    client = app.test_client()

    def attempt(address):
        headers = {"X-Forwarded-For": address}
        return client.post("/auth/login", data={"email": "x@y.test", "password": "whatever-pass"}, headers=headers)

    assert [attempt("203.0.113.1").status_code for _ in range(4)] == [401, 401, 401, 429]
    assert attempt("203.0.113.2").status_code == 401  # another client behind the same proxy is not blocked


def test_without_trusted_proxies_a_forwarded_header_is_ignored():
    app = make_app(LOGIN_ADDRESS_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [
        client.post(
            "/auth/login",
            data={"email": f"x{n}@y.test", "password": "whatever-pass"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},  # an attacker rotating a header gains nothing
        ).status_code
        for n in range(4)
    ]
    assert codes == [401, 401, 401, 429]


def test_refreshing_a_sessions_last_use_is_not_counted_as_the_pages_queries():
    from datetime import timedelta

    from app.models.base import utcnow
    from tests.conftest import age_session, login, session_row

    app = make_app(BENCH_QUERY_COUNT=True)
    with app.app_context():
        partner = factories.make_partner()
        db.session.commit()
        client = login(app.test_client(), partner.user)
        fresh = client.get("/cp/").headers["X-Query-Count"]
        age_session(client, created_ago=timedelta(minutes=10), seen_ago=timedelta(minutes=5))
        touched = client.get("/cp/").headers["X-Query-Count"]
        assert utcnow() - session_row(client).last_seen_at < timedelta(seconds=30)  # it was refreshed
    assert fresh == touched
