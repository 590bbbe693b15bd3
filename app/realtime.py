"""Live notification nudges. The database holds the state; this only tells open tabs to re-read it.

publish() goes through Redis pub/sub when REDIS_URL is set, so a worker (or another web process)
reaches every web process; without Redis it goes straight to this process's hub. Each web process
runs one subscriber thread (the bridge), started by the first WebSocket and restarted if it dies,
that hands each nudge to the hub; the hub wakes the sockets of those users. A nudge carries no
data, so one lost on the way only delays the badge until the next (the socket re-reads the count).

In the live tier (gunicorn_live.conf.py, gevent) the same code runs on greenlets: the standard library is
monkey-patched, so each inbox wait, the bridge and psycopg's waits yield to the other sockets. When the
worker stops, `hub.go_away()` puts GO_AWAY in every inbox and each socket closes with 1001.
"""

import json
import logging
import os
import queue
import threading
import time

from app.extensions import redis_handle

CHANNEL = "leadflow:notifications"
NOTIFY, GO_AWAY = "notify", "go-away"  # what an inbox receives: re-read the badge, or close (server stopping)
log = logging.getLogger(__name__)


class LocalHub:
    """The sockets open in this process, by user id; each socket waits on its own inbox."""

    def __init__(self):
        self._lock = threading.Lock()
        self._listeners: dict[str, set[queue.Queue]] = {}
        self.stopping = False

    def listen(self, user_id: str, limit: int | None = None) -> queue.Queue | None:
        """A new inbox for one of this user's sockets; None when the user already holds `limit` of them."""
        inbox: queue.Queue = queue.Queue()
        with self._lock:
            if limit is not None and len(self._listeners.get(str(user_id), ())) >= limit:
                return None
            self._listeners.setdefault(str(user_id), set()).add(inbox)
            if self.stopping:  # opened while the worker stops: told to go at once
                inbox.put(GO_AWAY)
        return inbox

    def forget(self, user_id: str, inbox: queue.Queue) -> None:
        with self._lock:
            inboxes = self._listeners.get(str(user_id), set())
            inboxes.discard(inbox)
            if not inboxes:
                self._listeners.pop(str(user_id), None)

    def dispatch(self, user_ids) -> None:
        with self._lock:
            inboxes = [q for uid in user_ids for q in self._listeners.get(str(uid), ())]
        for inbox in inboxes:
            inbox.put(NOTIFY)

    def dispatch_all(self, message: str = NOTIFY) -> None:
        """Wake every socket (after the bridge reconnects: nudges sent meanwhile were lost)."""
        with self._lock:
            inboxes = [q for qs in self._listeners.values() for q in qs]
        for inbox in inboxes:
            inbox.put(message)

    def go_away(self) -> int:
        """The worker is stopping: every open socket (and any opened from now on) closes with 1001.

        Returns how many sockets were told."""
        with self._lock:
            self.stopping = True
        count = self.listener_count()
        self.dispatch_all(GO_AWAY)
        return count

    def listener_count(self, user_id=None) -> int:
        with self._lock:
            if user_id is not None:
                return len(self._listeners.get(str(user_id), ()))
            return sum(len(v) for v in self._listeners.values())


hub = LocalHub()


def publish(user_ids) -> None:
    """Nudge the open tabs of these users, in every process. Never raises: the rows are already committed."""
    user_ids = [str(u) for u in user_ids]
    if not user_ids:
        return
    client = redis_handle.client
    if client is None or redis_handle.is_down():
        hub.dispatch(user_ids)
        return
    try:
        client.publish(CHANNEL, json.dumps(user_ids))
    except Exception as exc:  # Redis down: this process's tabs hear it; the others re-read on their outage poll
        redis_handle.mark_down()
        log.warning("could not publish a notification nudge (%s: %s)", type(exc).__name__, exc)
        hub.dispatch(user_ids)


class RedisBridge:
    """One Redis subscriber thread per process, dispatching into `hub`.

    While it is not subscribed (Redis down), `listening()` is False and the sockets re-read the
    badge on a timer instead (app/notifications/live.py), so the count still moves during an outage.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._url: str | None = None
        self.subscribed = threading.Event()

    def ensure_running(self, redis_url: str | None, wait: float = 2.0) -> None:
        """Start the thread if this process has none alive for this URL (a fork does not inherit threads).

        When it has just started, waits up to `wait` seconds for the subscription, so a socket that has
        had its first message will hear every nudge published after it. A thread that is alive but not
        subscribed is in an outage: no wait (it would only delay the socket).
        """
        if not redis_url:
            return
        with self._lock:
            alive = (
                self._thread is not None
                and self._thread.is_alive()
                and self._pid == os.getpid()
                and self._url == redis_url
            )
            if not alive:
                self.subscribed.clear()
                self._pid, self._url = os.getpid(), redis_url
                self._thread = threading.Thread(
                    target=self._run, args=(redis_url,), name="realtime-bridge", daemon=True
                )
                self._thread.start()
        if not alive:
            self.subscribed.wait(wait)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def listening(self) -> bool:
        return self.subscribed.is_set()

    def _current(self, redis_url: str) -> bool:
        return self._url == redis_url and self._pid == os.getpid()

    def _run(self, redis_url: str) -> None:
        import redis

        backoff = 0.5
        while self._current(redis_url):  # a bridge for another URL replaced this one: stop
            try:
                client = redis.Redis.from_url(
                    redis_url, health_check_interval=30, socket_connect_timeout=2, socket_keepalive=True
                )
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                pubsub.get_message(timeout=1)  # the subscribe confirmation: we are listening from here on
                self.subscribed.set()
                hub.dispatch_all()
                backoff = 0.5
                for message in pubsub.listen():
                    if message.get("type") == "message":
                        hub.dispatch(_user_ids(message["data"]))
            except Exception:
                if self._current(redis_url):
                    self.subscribed.clear()
                log.warning("realtime bridge lost Redis; reconnecting in %.1fs", backoff, exc_info=True)
                time.sleep(backoff)
                backoff = min(backoff * 2, 30)


def _user_ids(data) -> list[str]:
    try:
        value = json.loads(data)
    except (TypeError, ValueError):
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


bridge = RedisBridge()
