"""The live badge over a real WebSocket: the app served by a real server thread, websocket-client as the
browser, Redis pub/sub carrying nudges from a real RQ worker process to the web process."""

import http.client
import re
import threading
import time
from datetime import UTC

import pytest
import sqlalchemy as sa
import websocket
from werkzeug.serving import make_server

from app import realtime
from app.accounts import operations as accounts
from app.comms import announcements, notifications
from app.extensions import db
from app.models import Notification
from tests import factories
from tests.conftest import login, requires_redis
from tests.rq_support import redis_mode, run_worker


@pytest.fixture
def server(app):
    """The session's app on a free loopback port, threaded like the production server."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{http.server_port}"
    http.shutdown()


def session_cookie(app, user) -> str:
    client = login(app.test_client(), user)
    return f"session={client.get_cookie('session').value}"


def connect(host, cookie=None, origin="same", timeout=10) -> websocket.WebSocket:
    headers = [f"Cookie: {cookie}"] if cookie else []
    origin = f"http://{host}" if origin == "same" else origin
    return websocket.create_connection(
        f"ws://{host}/ws/notifications", header=headers, origin=origin, suppress_origin=origin is None, timeout=timeout
    )


def handshake_status(host, headers=None) -> tuple[int, str]:
    """A raw WebSocket handshake: (status, path of any redirect)."""
    conn = http.client.HTTPConnection(host, timeout=10)
    upgrade = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        "Origin": f"http://{host}",
    }
    conn.request("GET", "/ws/notifications", headers={**upgrade, **(headers or {})})
    response = conn.getresponse()
    location = (response.getheader("Location") or "").split("?")[0]
    conn.close()
    return response.status, location


def count_in(message: str) -> int:
    return int(re.search(r'id="notification-badge"[^>]*data-count="(\d+)"', message).group(1))


def wait_for_count(sock, expected: int, timeout: float = 30) -> tuple[str, float]:
    """Read messages until the badge shows `expected`; returns (message, time received)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.settimeout(max(deadline - time.time(), 0.1))
        message = sock.recv()
        if count_in(message) == expected:
            return message, time.time()
    raise AssertionError(f"the badge never showed {expected}")


def test_the_socket_needs_a_session_and_this_sites_origin(app, server):
    cp = factories.make_partner()
    db.session.commit()
    cookie = session_cookie(app, cp.user)
    assert handshake_status(server) == (302, "/auth/login")  # like any page: to the login page
    for origin in ("http://evil.example", None):
        with pytest.raises(websocket.WebSocketBadStatusException) as foreign:
            connect(server, cookie, origin=origin)
        assert foreign.value.status_code == 403
    sock = connect(server, cookie)
    first = sock.recv()
    assert 'hx-swap-oob="true"' in first and count_in(first) == 0
    sock.close()


def test_without_redis_a_notification_reaches_the_open_tab_within_the_process(app, server):
    cp = factories.make_partner()
    db.session.commit()
    sock = connect(server, session_cookie(app, cp.user))
    assert count_in(sock.recv()) == 0
    notifications.notify([cp.user], "lead_assigned", email=False, title="Kiosk rollout", link="/cp/")
    db.session.commit()
    message, _at = wait_for_count(sock, 1, timeout=5)
    assert "New notification: Lead assigned to you." in message and 'id="live-region"' in message
    sock.close()


def test_a_suspended_users_socket_is_closed_at_the_next_nudge(app, server):
    admin = factories.make_user("admin")
    cp = factories.make_partner()
    db.session.commit()
    sock = connect(server, session_cookie(app, cp.user))
    assert count_in(sock.recv()) == 0
    accounts.set_suspended(cp, admin, True)
    notifications.notify([cp.user], "lead_assigned", email=False, title="Too late")
    db.session.commit()
    sock.settimeout(5)
    while True:
        opcode, data = sock.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
        assert count_in(data.decode()) == 0  # never the new count
    assert int.from_bytes(data[:2], "big") == 1008  # policy violation: the session has ended
    assert _eventually(lambda: realtime.hub.listener_count(cp.user_id) == 0)


def _read_into(sock, expected, arrivals: dict, key) -> None:
    """In a thread: note when this tab's badge reaches `expected` (arrival time, not when the test looks)."""
    arrivals[key] = wait_for_count(sock, expected, timeout=60)


def _eventually(predicate, timeout=5.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@requires_redis
def test_a_notification_made_in_a_worker_reaches_two_tabs_within_a_second(app, server):
    admin = factories.make_user("admin")
    cp, other = factories.make_partner(), factories.make_partner()
    db.session.commit()
    with redis_mode(app) as (_client, queue):
        cookie = session_cookie(app, cp.user)
        tabs = [connect(server, cookie), connect(server, cookie)]
        bystander = connect(server, session_cookie(app, other.user))
        assert [count_in(tab.recv()) for tab in [*tabs, bystander]] == [0, 0, 0]
        assert realtime.bridge.is_alive()

        with app.test_request_context():
            announcements.send(admin, "Office move", "We moved.", [cp.id], send_email=False)
            db.session.commit()  # the delivery job is now on the queue: the worker creates the notification
        assert not db.session.scalar(sa.select(Notification).where(Notification.user_id == cp.user_id))
        db.session.rollback()  # no read transaction open while the worker writes (SQLite)

        arrivals = {}
        # Daemon readers: a failure further down must never leave a thread that keeps pytest from exiting.
        readers = [
            threading.Thread(target=_read_into, args=(tab, 1, arrivals, i), daemon=True) for i, tab in enumerate(tabs)
        ]
        for reader in readers:
            reader.start()
        run_worker(queue)
        for reader in readers:
            reader.join(30)
        row = db.session.scalar(sa.select(Notification).where(Notification.user_id == cp.user_id))
        created = row.created_at.replace(tzinfo=UTC).timestamp()
        assert sorted(arrivals) == [0, 1], "both tabs must update"
        assert all("New notification: Office move." in message for message, _at in arrivals.values())
        latencies = [received - created for _message, received in arrivals.values()]
        print(f"\nworker → web process → both tabs: {[f'{s:.3f}s' for s in latencies]}")
        assert max(latencies) < 1.0

        bystander.settimeout(1)
        with pytest.raises(websocket.WebSocketTimeoutException):
            while True:
                assert count_in(bystander.recv()) == 0  # only wake-ups for others, never a count
        for sock in [*tabs, bystander]:
            sock.close()


@requires_redis
def test_a_reconnect_after_a_dropped_connection_shows_the_right_count(app, server):
    cp = factories.make_partner()
    db.session.commit()
    with redis_mode(app):
        cookie = session_cookie(app, cp.user)
        sock = connect(server, cookie)
        assert count_in(sock.recv()) == 0
        sock.shutdown()  # the connection drops (network, laptop lid): nudges meanwhile reach nobody
        for title in ("One", "Two", "Three"):
            notifications.notify([cp.user], "lead_assigned", email=False, title=title)
        db.session.commit()
        notifications.mark_read(db.session.scalar(sa.select(Notification).limit(1)))
        db.session.commit()

        again = connect(server, cookie)
        assert count_in(again.recv()) == 2  # read from the database, not from the missed messages
        notifications.notify([cp.user], "lead_assigned", email=False, title="Four")
        db.session.commit()
        message, _at = wait_for_count(again, 3, timeout=5)
        assert "New notification: Lead assigned to you." in message
        again.close()
