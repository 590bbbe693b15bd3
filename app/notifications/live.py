"""/ws/notifications: pushes the re-rendered badge (and the newest notification) to every open tab.

The socket is authorised like any page (the session's user, through access.enforce) and refuses a
handshake whose Origin is not this site. It sends the badge at once, then waits on the process's
hub; on each nudge it re-reads the unread count from the database, so a lost nudge heals on the
next one and a reconnecting tab always shows the right count.
"""

import queue
import time
from urllib.parse import urlsplit

from flask import abort, current_app, render_template, request
from flask_login import current_user

from app import realtime
from app.access import ANY_USER, roles
from app.comms import notifications
from app.extensions import db, sock
from app.models import User
from app.notifications import bp

WAKE_SECONDS = 5  # how often an idle socket checks it is still open and the bridge still runs


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
    if request.endpoint == "notifications.ws" and not origin_allowed():
        abort(403)  # before the handshake: a page on another site cannot open the socket


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
    polling would."""
    if not redis_url or realtime.bridge.listening():
        return False
    return time.monotonic() - polled_at >= current_app.config.get("LIVE_OUTAGE_POLL_SECONDS", 15)


def _drain(inbox: queue.Queue) -> None:
    """Several nudges in a row need one re-read."""
    while True:
        try:
            inbox.get_nowait()
        except queue.Empty:
            return


@sock.route("/ws/notifications", bp=bp, endpoint="ws")
@roles(*ANY_USER)
def ws(socket):
    user_id, session_version = current_user.id, current_user.session_version
    redis_url = current_app.config.get("REDIS_URL")
    realtime.bridge.ensure_running(redis_url)
    inbox = realtime.hub.listen(str(user_id))
    try:
        badge, newest = _badge_and_newest(user_id)
        announced_id = newest.id if newest is not None else None  # already there: nothing to announce
        db.session.remove()  # no connection held while the socket idles
        socket.send(badge)
        polled_at = time.monotonic()
        wake = min(WAKE_SECONDS, current_app.config.get("LIVE_OUTAGE_POLL_SECONDS", 15))
        while socket.connected:
            try:
                inbox.get(timeout=wake)
            except queue.Empty:
                realtime.bridge.ensure_running(redis_url, wait=0)
                if not _outage_poll_due(redis_url, polled_at):
                    continue
            _drain(inbox)
            polled_at = time.monotonic()
            if not _still_valid(user_id, session_version):
                socket.close(reason=1008, message="Session ended")
                break
            badge, newest = _badge_and_newest(user_id)
            html = badge + _announcement(newest, announced_id)
            announced_id = newest.id if newest is not None else announced_id
            db.session.remove()
            socket.send(html)
    finally:
        realtime.hub.forget(str(user_id), inbox)
        db.session.remove()
