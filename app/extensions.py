"""Unbound extension objects; create_app() binds them."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
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
limiter = Limiter(key_func=get_remote_address, default_limits=[])


class RedisHandle:
    """The app's Redis connection, or None when REDIS_URL is unset (embedded mode)."""

    def __init__(self):
        self.client = None

    def init_app(self, app):
        url = app.config.get("REDIS_URL")
        if url:
            import redis

            self.client = redis.Redis.from_url(url)
        else:
            self.client = None
        app.extensions["redis_handle"] = self


redis_handle = RedisHandle()
