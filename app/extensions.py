"""Unbound extension objects; create_app() binds them."""

import time

from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sock import Sock
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
sock = Sock()


def _rate_limit_key() -> str:
    from app.api.principal import rate_limit_key

    return rate_limit_key()


# Only the API's blueprints carry limits (app/api); storage is RATELIMIT_STORAGE_URI, else REDIS_URL, else memory.
# With Redis down the counters fall back to memory: a limit is a helper, never a reason to refuse a request.
limiter = Limiter(key_func=_rate_limit_key, headers_enabled=True, swallow_errors=True, in_memory_fallback_enabled=True)


class _RedisState:
    def __init__(self, client, retry_seconds: float):
        self.client, self.retry_seconds, self.down_until = client, retry_seconds, 0.0


class RedisHandle:
    """The current app's Redis connection, or None when REDIS_URL is unset (embedded mode).

    Redis is a helper, never a dependency of a page: the client gives up quickly (short connect and
    read timeouts), and after a failure `is_down()` says so for REDIS_RETRY_SECONDS, so a request that
    would touch Redis many times (an announcement queueing 50 emails) pays for one failed attempt,
    not fifty. Whoever catches the error calls `mark_down()`; the first call after the pause tries again.
    Each app keeps its own connection and pause (in app.extensions): a second app in the same process (a
    test's development app, a CLI helper) never redirects the first one's jobs.
    """

    @staticmethod
    def _state() -> _RedisState:
        from flask import current_app

        return current_app.extensions["redis_handle"]

    @property
    def client(self):
        return self._state().client

    @client.setter
    def client(self, value) -> None:
        state = self._state()
        state.client, state.down_until = value, 0.0  # a new connection starts with a clean slate

    def init_app(self, app):
        url = app.config.get("REDIS_URL")
        client = None
        if url:
            import redis

            client = redis.Redis.from_url(
                url,
                socket_connect_timeout=float(app.config.get("REDIS_CONNECT_TIMEOUT", 0.5)),
                socket_timeout=float(app.config.get("REDIS_SOCKET_TIMEOUT", 2.0)),
            )
        app.extensions["redis_handle"] = _RedisState(client, float(app.config.get("REDIS_RETRY_SECONDS", 5.0)))

    def is_down(self) -> bool:
        """True for a few seconds after a failed Redis call: skip Redis and take the fallback at once."""
        return time.monotonic() < self._state().down_until

    def mark_down(self) -> None:
        state = self._state()
        state.down_until = time.monotonic() + state.retry_seconds


redis_handle = RedisHandle()
