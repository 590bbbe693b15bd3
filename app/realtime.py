"""Live notification nudges. The database holds the state; this only tells open tabs to re-read it.

publish() goes through Redis pub/sub when REDIS_URL is set (so a worker process can reach web
processes) and straight to this process's listeners otherwise.
"""

import json
import queue
import threading

from app.extensions import redis_handle

CHANNEL = "leadflow:notifications"


class LocalHub:
    """The sockets open in this process, by user id."""

    def __init__(self):
        self._lock = threading.Lock()
        self._listeners: dict[str, set[queue.Queue]] = {}

    def listen(self, user_id: str) -> queue.Queue:
        inbox: queue.Queue = queue.Queue()
        with self._lock:
            self._listeners.setdefault(user_id, set()).add(inbox)
        return inbox

    def forget(self, user_id: str, inbox: queue.Queue) -> None:
        with self._lock:
            self._listeners.get(user_id, set()).discard(inbox)

    def dispatch(self, user_ids) -> None:
        with self._lock:
            inboxes = [q for uid in user_ids for q in self._listeners.get(uid, ())]
        for inbox in inboxes:
            inbox.put("notify")

    def listener_count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._listeners.values())


hub = LocalHub()


def publish(user_ids) -> None:
    user_ids = [str(u) for u in user_ids]
    if not user_ids:
        return
    if redis_handle.client is not None:
        redis_handle.client.publish(CHANNEL, json.dumps(user_ids))
    else:
        hub.dispatch(user_ids)
