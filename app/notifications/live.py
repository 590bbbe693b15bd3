"""/ws/notifications: pushes the re-rendered badge (and the newest notification) to every open tab.

The socket is authorised like any page (the session's user, through access.enforce) and refuses a
handshake whose Origin is not this site. It sends the badge at once, then waits on the process's
hub; on each nudge it re-reads the unread count from the database, so a lost nudge heals on the
next one and a reconnecting tab always shows the right count.

The sockets live in their own tier (gunicorn_live.conf.py: gevent, a socket costs a greenlet, not a thread),
which LIVE_SOCKET_URL names; the threaded page workers refuse /ws/ at once, and the pages point live.js at the
tier (`live_socket_url()`) or, with none configured, poll. When that worker stops, each socket gets a close frame
1001 (going away). One user holds at most LIVE_SOCKETS_PER_USER sockets in a process.
"""

import queue
import time
from urllib.parse import urlsplit

from flask import abort, current_app, render_template, request, url_for
from flask_login import current_user

from app import realtime
from app.access import ANY_USER, roles
from app.comms import notifications
from app.extensions import db, sock
from app.models import User
from app.notifications import bp
from app.ops import metrics

WAKE_SECONDS = 5  # how often an idle socket checks it is still open and the bridge still runs
GOING_AWAY = 1001  # RFC 6455 close code: the server is stopping; live.js reconnects (to another worker)
TRY_AGAIN_LATER = 1013  # the user holds as many sockets as allowed; live.js backs off and polls meanwhile


@bp.app_template_global()
def live_socket_url() -> str:
    """Where the page's live.js opens its socket: LIVE_SOCKET_URL, else this process's own /ws/notifications when
    it serves sockets; "" (live.js polls the badge) for page workers with no live tier configured."""
    configured = current_app.config.get("LIVE_SOCKET_URL")
    return configured or (url_for("notifications.ws") if serves_sockets() else "")


def serves_sockets() -> bool:
    """The live tier does, and so does a lone development process (`make run`). A threaded page worker never does,
    whatever LIVE_SOCKET_URL says: each open tab would hold one of its threads, and some 32 tabs stop the site."""
    cfg = current_app.config
    return bool(cfg.get("LIVE_TIER")) or not (cfg.get("PAGE_TIER") or cfg.get("LIVE_SOCKET_URL"))


def over_the_limit() -> bool:
    """This user already holds LIVE_SOCKETS_PER_USER sockets here (checked again, atomically, by the hub)."""
    limit = current_app.config["LIVE_SOCKETS_PER_USER"]
    return current_user.is_authenticated and realtime.hub.listener_count(current_user.id) >= limit


def origin_allowed() -> bool:
    """Same host as the request (or as PUBLIC_BASE_URL behind a proxy); a missing Origin is refused too."""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    netloc = urlsplit(origin).netloc.lower()
    public = urlsplit(current_app.config.get("PUBLIC_BASE_URL") or "").netloc.lower()
    return netloc in {request.host.lower(), public} - {""}


@bp.before_request
def check_websocket_origin():
    if request.endpoint != "notifications.ws":
        return
    if not serves_sockets():
        abort(404)  # answered before the handshake: the thread is free again in a millisecond
    if not origin_allowed():
        abort(403)  # before the handshake: a page on another site cannot open the socket
    if over_the_limit():
        abort(429)  # before the handshake too: live.js retries later and polls meanwhile


def _badge_and_newest(user_id):
    """The badge, re-rendered from the database's count, and the user's newest notification."""
    user = db.session.get(User, user_id)
    badge = render_template("_partials/badge.html", unread=notifications.unread_count(user), oob=True)
    newest = next(iter(notifications.latest(user, 1)), None)
    return badge, newest


def _announcement(newest, announced_id) -> str:
    """The live-region text for a notification this socket has not announced yet (and that is unread)."""
    if newest is None or newest.id == announced_id or newest.is_read:
        return ""
    return render_template("notifications/partials/_live.html", n=newest)


def _still_valid(user_id, session_version) -> bool:
    user = db.session.get(User, user_id)
    return user is not None and user.status == "active" and user.session_version == session_version


def _outage_poll_due(redis_url, polled_at: float) -> bool:
    """With Redis configured but the bridge not subscribed (an outage), nudges from other processes
    cannot arrive: re-read the count every LIVE_OUTAGE_POLL_SECONDS instead, as the page's own
    polling would. A separate live tier without Redis never hears the page processes: it always polls."""
    if redis_url and realtime.bridge.listening():
        return False
    if not redis_url and not current_app.config.get("LIVE_TIER"):
        return False  # one process: publish() reaches this hub directly
    return time.monotonic() - polled_at >= current_app.config.get("LIVE_OUTAGE_POLL_SECONDS", 15)


def _drain(inbox: queue.Queue) -> str:
    """Several nudges in a row need one re-read; a GO_AWAY among them wins."""
    seen = realtime.NOTIFY
    while True:
        try:
            if inbox.get_nowait() == realtime.GO_AWAY:
                seen = realtime.GO_AWAY
        except queue.Empty:
            return seen


def _next_wake(inbox: queue.Queue, redis_url, polled_at: float, wake: float) -> str | None:
    """Wait for the inbox: NOTIFY (re-read), GO_AWAY (close), or None (idle: check the socket again)."""
    try:
        first = inbox.get(timeout=wake)
    except queue.Empty:
        realtime.bridge.ensure_running(redis_url, wait=0)
        return realtime.NOTIFY if _outage_poll_due(redis_url, polled_at) else None
    return realtime.GO_AWAY if first == realtime.GO_AWAY else _drain(inbox)


def _serve(socket, inbox: queue.Queue, user_id, session_version, redis_url) -> None:
    """The open socket: the badge now, then one re-read per wake until it closes or is told to go."""
    badge, newest = _badge_and_newest(user_id)
    announced_id = newest.id if newest is not None else None  # already there: nothing to announce
    db.session.remove()  # no connection held while the socket idles
    socket.send(badge)
    polled_at = time.monotonic()
    wake = min(WAKE_SECONDS, current_app.config.get("LIVE_OUTAGE_POLL_SECONDS", 15))
    while socket.connected:
        event = _next_wake(inbox, redis_url, polled_at, wake)
        if event is None:
            continue
        if event == realtime.GO_AWAY:
            socket.close(reason=GOING_AWAY, message="Server restarting")
            return
        polled_at = time.monotonic()
        if not _still_valid(user_id, session_version):
            socket.close(reason=1008, message="Session ended")
            return
        badge, newest = _badge_and_newest(user_id)
        html = badge + _announcement(newest, announced_id)
        announced_id = newest.id if newest is not None else announced_id
        db.session.remove()
        socket.send(html)


@sock.route("/ws/notifications", bp=bp, endpoint="ws")
@roles(*ANY_USER)
def ws(socket):
    user_id, session_version = current_user.id, current_user.session_version
    redis_url = current_app.config.get("REDIS_URL")
    realtime.bridge.ensure_running(redis_url)
    inbox = realtime.hub.listen(str(user_id), current_app.config["LIVE_SOCKETS_PER_USER"])
    if inbox is None:  # opened together with others past the limit, after the check before the handshake
        socket.close(reason=TRY_AGAIN_LATER, message="Too many open tabs")
        return
    try:  # the socket is open from here ...
        with metrics.live_socket():
            _serve(socket, inbox, user_id, session_version, redis_url)
    finally:
        realtime.hub.forget(str(user_id), inbox)  # ... to here: it has closed
        db.session.remove()
