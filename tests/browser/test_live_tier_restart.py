"""The live tier in a real browser: the page's live.js on another port than the pages, through a restart."""

import signal
import time

from playwright.sync_api import expect

from app.comms import notifications
from app.extensions import db
from tests import factories
from tests.conftest import redis_url, requires_redis
from tests.rq_support import redis_mode
from tests.test_live_tier import GRACEFUL, free_port, start_tier, stop


def notify_through_redis(app, user, title: str) -> None:
    with redis_mode(app):  # published as a page process does, to the tier's subscriber
        notifications.notify([user], "lead_assigned", email=False, title=title, link="/cp/")
        db.session.commit()


class SocketWatch:
    """The page's WebSockets as Playwright sees them: each one opened, and which have had a frame (the badge)."""

    def __init__(self, page):
        self.page, self.opened, self.heard = page, [], set()
        page.on("websocket", self._opened)

    def _opened(self, ws) -> None:
        self.opened.append(ws.url)
        n = len(self.opened)
        ws.on("framereceived", lambda _payload: self.heard.add(n))

    def wait_for_badge(self, after: int = 0, timeout: float = 10) -> None:
        """Until a socket opened after the first `after` ones has had its badge (failed attempts have none)."""
        deadline = time.monotonic() + timeout
        while max(self.heard, default=0) <= after:
            assert time.monotonic() < deadline, f"no socket after #{after} got its badge: {self.opened}"
            self.page.wait_for_timeout(100)  # lets Playwright deliver its events


@requires_redis
def test_the_page_uses_the_tier_on_another_port_and_comes_back_after_a_restart(app, live_server, new_page):
    """A real browser: live.js opens the tier's absolute URL (the session cookie crosses to the other port), and
    when the tier restarts (close 1001) it reconnects by itself and the badge moves again, without a reload."""
    cp = factories.make_partner()
    db.session.commit()
    host = f"127.0.0.1:{free_port()}"
    app.config.update(LIVE_SOCKET_URL=f"ws://{host}/ws/notifications")  # the page process serves no sockets
    process, _ = start_tier(host, pages=live_server, REDIS_URL=redis_url())
    try:
        page = new_page()
        sockets = SocketWatch(page)
        page.goto("/auth/login")
        page.get_by_label("Email").fill(cp.user.email)
        page.get_by_label("Password").fill(factories.PASSWORD)
        page.get_by_role("button", name="Log in").click()
        sockets.wait_for_badge()
        assert sockets.opened == [f"ws://{host}/ws/notifications"]
        badge = page.locator("#notification-badge")
        notify_through_redis(app, cp.user, "Before the restart")
        expect(badge).to_have_attribute("data-count", "1", timeout=5_000)
        page.evaluate("window.__sameDocument = true")

        process.send_signal(signal.SIGTERM)
        process.wait(timeout=GRACEFUL + 5)
        stop(process)
        process, _ = start_tier(host, pages=live_server, REDIS_URL=redis_url())
        sockets.wait_for_badge(after=1, timeout=20)  # 1001: a retry within 5 s, then backoff while it was down
        notify_through_redis(app, cp.user, "After the restart")
        expect(badge).to_have_attribute("data-count", "2", timeout=5_000)
        assert page.evaluate("window.__sameDocument") is True
    finally:
        app.config.update(LIVE_SOCKET_URL="")
        stop(process)
