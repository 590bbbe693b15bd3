"""Login throttling: atomic counters per address and per account, shared through Redis, per process without it.

Every attempt takes one unit from its buckets *before* the password is checked (one atomic hit each:
a Lua script on Redis, a lock in memory), so no number of parallel requests gets more guesses checked
than the limit allows. A successful login gives the account's bucket back.

Per account, an attacker could keep the owner out. A browser that has logged in to an account before
carries a signed "known device" cookie for it (OWASP's device cookies): its attempts count in a bucket of
that device alone, so the owner's usual browser is never locked out by guesses made elsewhere, and any
lock-out ends with its window.

Redis down: the counters fall back to this process's memory (logged), and Redis is tried again after
REDIS_RETRY_SECONDS, so logins keep working with limits per process instead of failing.
"""

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

DEVICE_COOKIE = "lf_device"
DEVICE_COOKIE_DAYS = 180
REDIS_RETRY_SECONDS = 30


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds until the fullest bucket has room again


class LoginThrottle:
    """The counters of one app: Redis (RATELIMIT_STORAGE_URI, else REDIS_URL) with this process's memory behind it."""

    def __init__(self, uri: str | None):
        self.primary = None
        if uri and uri.startswith(("redis://", "rediss://")):
            self.primary = storage_from_string(uri, socket_connect_timeout=0.5, socket_timeout=0.5)
        self.fallback = MemoryStorage()
        self.down_until = 0.0

    @classmethod
    def init_app(cls, app) -> None:
        app.extensions["login_throttle"] = cls(app.config.get("RATELIMIT_STORAGE_URI") or app.config.get("REDIS_URL"))

    def _limiters(self):
        """The shared storage first (unless it failed recently), then this process's memory."""
        if self.primary is not None and time.monotonic() >= self.down_until:
            yield MovingWindowRateLimiter(self.primary)
        yield MovingWindowRateLimiter(self.fallback)

    def _run(self, action):
        for limiter in self._limiters():
            try:
                return action(limiter)
            except Exception:  # noqa: BLE001  (any storage error: the fallback answers instead)
                if limiter.storage is self.fallback:
                    raise
                self.down_until = time.monotonic() + REDIS_RETRY_SECONDS
                log.warning("login throttle: shared storage unreachable, counting in this process", exc_info=True)
        raise RuntimeError("no rate-limit storage")  # pragma: no cover (the memory fallback always answers)

    def attempt(self, buckets: list[tuple[str, str]]) -> Verdict:
        """Take one unit from each (limit, key) bucket; refused if any of them is full."""

        def hit_all(limiter):
            for text, key in buckets:
                item = parse(text)
                if not limiter.hit(item, "login", key):
                    reset, _remaining = limiter.get_window_stats(item, "login", key)
                    return Verdict(False, max(1, int(reset - time.time()) + 1))
            return Verdict(True)

        return self._run(hit_all)

    def forgive(self, buckets: list[tuple[str, str]]) -> None:
        """A successful login: the account's failures are forgotten."""
        self._run(lambda limiter: [limiter.clear(parse(text), "login", key) for text, key in buckets])


def login_throttle() -> LoginThrottle:
    return current_app.extensions["login_throttle"]


def _hashed(value: str) -> str:
    """Emails are not stored in the counter store, only a keyed digest of them."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hashlib.blake2b(value.encode(), key=secret[:64], digest_size=16).hexdigest()


def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="leadflow-known-device")


def known_device(email: str) -> str | None:
    """The device id of this browser's cookie, if it was issued for this email's account."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        data = _device_serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("account") != _hashed(email):
        return None
    device = data.get("device")
    return device if isinstance(device, str) else None


def device_cookie_value(email: str) -> str:
    return _device_serializer().dumps({"account": _hashed(email), "device": secrets.token_hex(16)})


def buckets_for(email: str) -> list[tuple[str, str]]:
    """The buckets an attempt on `email` from this request counts against."""
    config = current_app.config
    account = _hashed(email)
    device = known_device(email)
    if device is not None:
        return [(config["LOGIN_RATE_LIMIT"], f"device:{account}:{device}")]
    return [
        (config["LOGIN_ADDRESS_RATE_LIMIT"], f"address:{request.remote_addr}"),
        (config["LOGIN_RATE_LIMIT"], f"account:{account}"),
    ]


def account_buckets(email: str) -> list[tuple[str, str]]:
    """The buckets a successful login gives back (not the address's: that one guards against spraying)."""
    return [bucket for bucket in buckets_for(email) if not bucket[1].startswith("address:")]
