"""The live tier as production runs it: gunicorn with gunicorn_live.conf.py (gevent) in its own process,
on the suite's database, reached by websocket-client as the browser on another port than the pages."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import websocket

from app.comms import notifications
from app.extensions import db
from tests import factories
from tests.conftest import database_url, login, redis_url, requires_redis
from tests.rq_support import redis_mode

ROOT = Path(__file__).resolve().parent.parent
PAGES = "http://127.0.0.1:5000"  # the page tier's origin (PUBLIC_BASE_URL); the sockets go to another port
GRACEFUL = 5  # LIVE_GRACEFUL_TIMEOUT for these tiers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_tier(host=None, pages=PAGES, **env) -> tuple[subprocess.Popen, str]:
    """`gunicorn -c gunicorn_live.conf.py wsgi:app` (one gevent worker), as the Procfile's websocket line."""
    host = host or f"127.0.0.1:{free_port()}"
    settings = {
        "LEADFLOW_CONFIG": "test",
        "TEST_DATABASE_URL": database_url(),
        "PUBLIC_BASE_URL": pages,
        "LIVE_SOCKET_URL": f"ws://{host}/ws/notifications",  # as the page tier has it: the tier still serves
        "LIVE_BIND": host,
        "LIVE_WORKERS": "1",
        "LIVE_GRACEFUL_TIMEOUT": str(GRACEFUL),
        "LIVE_OUTAGE_POLL_SECONDS": "60",  # nothing but a nudge can refresh a badge within a test
        **env,
    }
    return start_gunicorn("gunicorn_live.conf.py", host, settings), host


def start_pages(threads: int) -> tuple[subprocess.Popen, str]:
    """`gunicorn -c gunicorn.conf.py wsgi:app` (one gthread worker), as the Procfile's web line, no live tier."""
    port = free_port()
    settings = {"LEADFLOW_CONFIG": "test", "TEST_DATABASE_URL": database_url(), "HOST": "127.0.0.1",
                "PORT": str(port), "WEB_CONCURRENCY": "1", "WEB_THREADS": str(threads), "LIVE_SOCKET_URL": ""}  # fmt: skip
    return start_gunicorn("gunicorn.conf.py", f"127.0.0.1:{port}", settings), f"127.0.0.1:{port}"


def start_gunicorn(conf: str, host: str, settings: dict) -> subprocess.Popen:
    environ = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "LIVE_TIER", "PAGE_TIER"}}
    log = tempfile.TemporaryFile()  # noqa: SIM115  (not a pipe, which a chatty tier could fill; stop() closes it)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", conf, "wsgi:app"],
        cwd=ROOT,
        env={**environ, **settings},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process.log = log
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):  # listening before the worker is ready
            if requests.get(f"http://{host}/healthz", timeout=2).status_code == 200:
                return process
        if process.poll() is not None:
            raise AssertionError(f"{conf} exited: {stop(process)}")
        time.sleep(0.1)
    raise AssertionError(f"{conf} did not start: {stop(process)}")


def stop(process: subprocess.Popen) -> str:
    """Kill the tier (if still running); returns its log."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    process.log.seek(0)
    text = process.log.read().decode(errors="replace")
    process.log.close()
    return text


@pytest.fixture(scope="module")
def tier():
    """One tier for the tests that do not stop it; fed by Redis when the suite has it (CI does)."""
    process, host = start_tier(**({"REDIS_URL": redis_url()} if redis_url() else {}))
    yield host
    stop(process)


def cookie_for(app, user) -> str:
    return f"session={login(app.test_client(), user).get_cookie('session').value}"


def open_socket(host, cookie, origin=PAGES) -> websocket.WebSocket:
    sock = websocket.create_connection(
        f"ws://{host}/ws/notifications", header=[f"Cookie: {cookie}"], origin=origin, timeout=15
    )
    assert 'id="notification-badge"' in sock.recv()  # the badge, at once
    return sock


def close_code(sock) -> int:
    opcode, frame = sock.recv_data_frame(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    return int.from_bytes(frame.data[:2], "big")


def test_sigterm_sends_every_socket_a_close_frame_and_exits_within_the_timeout(app):
    users = [factories.make_partner().user for _ in range(3)]
    db.session.commit()
    process, host = start_tier()
    try:
        sockets = [open_socket(host, cookie_for(app, users[n % 3])) for n in range(6)]
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert [close_code(sock) for sock in sockets] == [1001] * 6
        process.wait(timeout=GRACEFUL + 5)
        took = time.monotonic() - started
    finally:
        log = stop(process)
    assert process.returncode == 0, log
    assert took < GRACEFUL, f"exit took {took:.1f} s: the graceful timeout ran out instead of the sockets closing"
    assert "close frame 1001 to 6 open socket(s)" in log


def open_sockets_gauge(host) -> float:
    """leadflow_live_connections as the tier's own /metrics reports it (loopback may scrape without a token)."""
    text = requests.get(f"http://{host}/metrics", timeout=5).text
    [value] = [line.split()[-1] for line in text.splitlines() if line.startswith("leadflow_live_connections ")]
    return float(value)


def wait_for(predicate, seconds=5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_one_worker_holds_many_sockets_and_still_answers_at_once(app, tier):
    """Far more sockets than the page tier's 2 × 16 threads, all on the tier's one worker, which still answers
    a request in milliseconds: a socket costs a greenlet, not a thread. The tier's /metrics counts them."""
    users = [factories.make_partner().user for _ in range(10)]
    db.session.commit()
    cookies = [cookie_for(app, user) for user in users]
    before = open_sockets_gauge(tier)
    sockets = [open_socket(tier, cookies[n % 10]) for n in range(120)]
    try:
        assert open_sockets_gauge(tier) == before + 120
        started = time.monotonic()
        assert requests.get(f"http://{tier}/healthz", timeout=5).status_code == 200
        assert time.monotonic() - started < 0.5
        with pytest.raises(websocket.WebSocketBadStatusException) as foreign:
            open_socket(tier, cookies[0], origin="http://evil.example")  # the Origin check holds across ports
        assert foreign.value.status_code == 403
        sockets.append(open_socket(tier, cookies[0]))  # and one more is still accepted
    finally:
        for sock in sockets:
            sock.close()
    assert wait_for(lambda: open_sockets_gauge(tier) == before), "closed sockets still counted as open"


@requires_redis
def test_a_notification_from_a_page_process_reaches_the_socket_on_the_tier(app, tier):
    cp = factories.make_partner()
    db.session.commit()
    sock = open_socket(tier, cookie_for(app, cp.user))
    with redis_mode(app):  # this test process is the page process: it publishes through Redis
        started = time.monotonic()
        notifications.notify([cp.user], "lead_assigned", email=False, title="Kiosk rollout", link="/cp/")
        db.session.commit()
        sock.settimeout(5)
        message = sock.recv()
    assert 'data-count="1"' in message and "New notification: Lead assigned to you." in message
    assert time.monotonic() - started < 2  # the outage poll is 60 s: only the Redis nudge can have done it


def test_the_page_process_refuses_the_socket_when_the_tier_is_separate(app, client):
    cp = factories.make_partner()
    db.session.commit()
    login(client, cp.user)
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": PAGES}  # fmt: skip
    live = "wss://live.example.test/ws/notifications"
    assert f'data-ws-url="{live}"' not in client.get("/cp/").get_data(as_text=True)
    app.config.update(LIVE_SOCKET_URL=live, LIVE_TIER=False)
    try:
        assert client.get("/ws/notifications", headers=upgrade).status_code == 404
        assert f'data-ws-url="{live}"' in client.get("/cp/").get_data(as_text=True)  # pages point live.js there
    finally:
        app.config.update(LIVE_SOCKET_URL="", LIVE_TIER=False)


def test_a_tier_without_redis_still_moves_the_badge_by_re_reading_it(app):
    """No Redis: nothing can nudge a separate tier, so each socket re-reads its badge every
    LIVE_OUTAGE_POLL_SECONDS (here 1 s) instead of waiting for a nudge that never comes."""
    cp = factories.make_partner()
    db.session.commit()
    process, host = start_tier(LIVE_OUTAGE_POLL_SECONDS="1")
    try:
        sock = open_socket(host, cookie_for(app, cp.user))
        notifications.notify([cp.user], "lead_assigned", email=False, title="Polled on the tier", link="/cp/")
        db.session.commit()  # no Redis in this process either: the nudge goes nowhere
        sock.settimeout(5)
        assert 'data-count="1"' in sock.recv()
    finally:
        stop(process)


def test_page_workers_never_hold_a_socket_so_open_tabs_cannot_stop_the_site(app):
    """Without a live tier the threaded page workers refuse /ws/ before the handshake and pages poll the badge: two
    threads stay free for pages with eight tabs open (issue 21 measured 32 tabs stopping 2 × 16 threads)."""
    cp = factories.make_partner()
    db.session.commit()
    process, host = start_pages(threads=2)
    try:
        cookie = cookie_for(app, cp.user)
        for _tab in range(8):
            with pytest.raises(websocket.WebSocketBadStatusException) as refused:
                websocket.create_connection(f"ws://{host}/ws/notifications", header=[f"Cookie: {cookie}"],
                                            origin=f"http://{host}", timeout=5)  # fmt: skip
            assert refused.value.status_code == 404
        started = time.monotonic()
        page = requests.get(f"http://{host}/cp/", headers={"Cookie": cookie}, timeout=5)
        assert page.status_code == 200 and time.monotonic() - started < 2
        assert 'data-ws-url=""' in page.text  # live.js polls the badge instead
    finally:
        log = stop(process)
    assert "LIVE_SOCKET_URL is not set: no live tier" in log


def try_socket(host, cookie) -> tuple[str, websocket.WebSocket | None]:
    """("open", the socket) once the badge came, or how the tier refused: 429 before the handshake, 1013 after it."""
    try:
        sock = websocket.create_connection(
            f"ws://{host}/ws/notifications", header=[f"Cookie: {cookie}"], origin=PAGES, timeout=15
        )
    except websocket.WebSocketBadStatusException as refused:
        return str(refused.status_code), None
    opcode, frame = sock.recv_data_frame(control_frame=True)
    if opcode == websocket.ABNF.OPCODE_CLOSE:
        return str(int.from_bytes(frame.data[:2], "big")), None
    assert 'id="notification-badge"' in frame.data.decode()
    return "open", sock


def test_one_user_holds_at_most_the_limit_of_sockets_so_one_login_cannot_take_the_tier(app):
    hog, other = factories.make_partner(), factories.make_partner()
    db.session.commit()
    process, host = start_tier(LIVE_SOCKETS_PER_USER="3")
    held = []
    try:
        cookie = cookie_for(app, hog.user)
        with ThreadPoolExecutor(max_workers=10) as pool:  # ten tabs at once: the check and the hub race
            tries = list(pool.map(lambda _tab: try_socket(host, cookie), range(10)))
        held += [sock for _, sock in tries if sock]
        outcomes = sorted(outcome for outcome, _ in tries)
        assert outcomes.count("open") == 3 and set(outcomes) <= {"open", "429", "1013"}, outcomes
        assert try_socket(host, cookie)[0] == "429"
        outcome, sock = try_socket(host, cookie_for(app, other.user))
        held.append(sock)
        assert outcome == "open"  # everyone else still gets in
        held[0].close()  # one tab closed: its place is free once the tier sees it (an idle wake, at most 5 s)
        deadline = time.monotonic() + 15
        while (outcome := try_socket(host, cookie))[0] != "open" and time.monotonic() < deadline:
            time.sleep(0.5)
        held.append(outcome[1])
        assert outcome[0] == "open"
    finally:
        for sock in held:
            if sock:
                sock.close()
        stop(process)
