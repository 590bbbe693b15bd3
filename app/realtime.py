"""Live notification nudges. The database holds the state; this only tells open tabs to re-read it.

publish() goes through Redis pub/sub when REDIS_URL is set, so a worker (or another web process)
reaches every web process; without Redis it goes straight to this process's hub. Each web process
runs one subscriber thread (the bridge), started by the first WebSocket and restarted if it dies,
that hands each nudge to the hub; the hub wakes the sockets of those users. A nudge carries no
data, so one lost on the way only delays the badge until the next (the socket re-reads the count).
"""

import json
import logging
import os
import queue
import threading
import time

from app.extensions import redis_handle

CHANNEL = "leadflow:notifications"
log = logging.getLogger(__name__)


class LocalHub:
    """The sockets open in this process, by user id; each socket waits on its own inbox."""

    def __init__(self):
        self._lock = threading.Lock()
        self._listeners: dict[str, set[queue.Queue]] = {}

    def listen(self, user_id: str) -> queue.Queue:
        inbox: queue.Queue = queue.Queue()
        with self._lock:
            self._listeners.setdefault(str(user_id), set()).add(inbox)
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
            inbox.put("notify")

    def dispatch_all(self) -> None:
        """Wake every socket (after the bridge reconnects: nudges sent meanwhile were lost)."""
        with self._lock:
            inboxes = [q for qs in self._listeners.values() for q in qs]
        for inbox in inboxes:
            inbox.put("notify")

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
    if client is None:
        hub.dispatch(user_ids)
        return
    try:
        client.publish(CHANNEL, json.dumps(user_ids))
    except Exception:  # Redis down: this process's tabs still hear it; others heal on their next nudge
        log.exception("could not publish a notification nudge")
        hub.dispatch(user_ids)


class RedisBridge:
    """One Redis subscriber thread per process, dispatching into `hub`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self.subscribed = threading.Event()

    def ensure_running(self, redis_url: str | None, wait: float = 2.0) -> None:
        """Start the thread if this process has none alive (a fork does not inherit threads).

        Waits up to `wait` seconds for the subscription, so a socket that has had its first
        message will hear every nudge published after it.
        """
        if not redis_url:
            return
        with self._lock:
            alive = self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()
            if not alive:
                self.subscribed.clear()
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, args=(redis_url,), name="realtime-bridge", daemon=True
                )
                self._thread.start()
        self.subscribed.wait(wait)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self, redis_url: str) -> None:
        import redis

        backoff = 0.5
        while True:
            try:
                client = redis.Redis.from_url(redis_url, health_check_interval=30)
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
