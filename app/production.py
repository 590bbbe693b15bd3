"""Running in production: start-up checks, request ids, structured request logs and error reporting."""

import contextlib
import contextvars
import json
import logging
import os
import re
import sys
import time
import uuid

from flask import g, has_request_context, request

REQUEST_LOG = "leadflow.request"
# An incoming X-Request-ID (from a proxy) is kept only when it looks like an id, never arbitrary text.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# The development default, which production refuses (compared against, never used as a secret).
_DEV_SECRET = "dev-only-not-secret"  # noqa: S105  # nosec B105
MIN_SECRET_LENGTH = 24


class ConfigurationError(RuntimeError):
    """The configuration cannot work; the message says what to set."""


def check_config(app) -> None:
    """Fail at start-up with a clear sentence instead of a traceback later."""
    cfg = app.config
    if cfg["CONFIG_NAME"] == "production":
        secret = cfg.get("SECRET_KEY") or ""
        if not secret or secret == _DEV_SECRET:
            raise ConfigurationError("SECRET_KEY must be set to a long random value in production.")
        if len(secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(f"SECRET_KEY is too short: use at least {MIN_SECRET_LENGTH} random characters.")
        if not cfg.get("SQLALCHEMY_DATABASE_URI"):
            raise ConfigurationError("DATABASE_URL must be set in production.")
        _check_encryption_keys(cfg)
    if cfg["STORAGE_BACKEND"] not in {"local", "s3"}:
        raise ConfigurationError(f"STORAGE_BACKEND must be local or s3, not {cfg['STORAGE_BACKEND']!r}.")
    if cfg["STORAGE_BACKEND"] == "s3" and not cfg.get("S3_BUCKET"):
        raise ConfigurationError("STORAGE_BACKEND=s3 needs S3_BUCKET.")


_MAKE_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


def _check_encryption_keys(cfg) -> None:
    """Bank numbers, tax ids and TOTP secrets are encrypted with these keys: never with one derived from SECRET_KEY."""
    from app.crypto import invalid_keys

    if not (cfg.get("ENCRYPTION_KEYS") or "").strip():
        raise ConfigurationError(f"ENCRYPTION_KEYS must be set in production; make a key with: {_MAKE_KEY}")
    bad = invalid_keys(cfg)
    if bad:
        raise ConfigurationError(
            f"ENCRYPTION_KEYS entry {', '.join(map(str, bad))} is not a Fernet key; make one with: {_MAKE_KEY}"
        )


def check_database(app) -> None:
    """Connect once, so an unreachable or misspelt DATABASE_URL stops the start with one line."""
    import sqlalchemy as sa

    from app.extensions import db

    with app.app_context():
        try:
            with db.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            if app.config["CONFIG_NAME"] == "production":
                from app.db_roles import warn_if_unguarded

                warn_if_unguarded(app)
        except Exception as exc:  # any driver error means the same thing to the operator
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise ConfigurationError(
                f"cannot reach the database ({db.engine.url.render_as_string()}): {reason}"
            ) from exc
        finally:
            db.engine.dispose()  # forked workers open their own connections


def check_processes(app) -> None:
    """Production with more than one process needs Redis: without it each process keeps its own notifications
    and sends email inside the request. Checked where the app starts (wsgi.py, `flask`), not in create_app."""
    cfg = app.config
    if cfg["CONFIG_NAME"] != "production" or cfg.get("REDIS_URL"):
        return
    if not cfg.get("SINGLE_PROCESS"):
        raise ConfigurationError(
            "REDIS_URL must be set in production: the web workers, the websocket and worker processes share "
            "notifications and jobs through it (a one-process deployment sets LEADFLOW_SINGLE_PROCESS=1 and "
            "WEB_CONCURRENCY=1)."
        )
    if cfg["WEB_CONCURRENCY"] > 1:
        raise ConfigurationError(
            f"LEADFLOW_SINGLE_PROCESS=1 with WEB_CONCURRENCY={cfg['WEB_CONCURRENCY']}: set WEB_CONCURRENCY=1 "
            "or REDIS_URL, since web workers share notifications only through Redis."
        )


def create_or_exit(config_name: str | None = None):
    """The app for wsgi.py and the `flask` command: a configuration error prints one line and exits 2."""
    from app import create_app
    from config import CONFIGS

    name = config_name or os.environ.get("LEADFLOW_CONFIG") or "development"
    try:
        if name not in CONFIGS:
            raise ConfigurationError(f"LEADFLOW_CONFIG must be one of {', '.join(sorted(CONFIGS))}, not {name!r}.")
        app = create_app(name)
        check_processes(app)
        if not app.testing:
            check_database(app)
    except ConfigurationError as exc:
        print(f"LeadFlow PM cannot start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return app


class JsonFormatter(logging.Formatter):
    """One JSON object per line; fields passed with `extra={"fields": {...}}` are merged in."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


# The job a worker is running ({"job_id": ..., "request_id": ...}): set around each job (app.jobs.worker.JobWorker).
_log_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar("leadflow_log_context", default=None)


def set_log_context(**fields) -> None:
    """From now on in this thread (and in processes it forks), log lines carry `fields`; no fields clears it."""
    _log_context.set({key: value for key, value in fields.items() if value is not None} or None)


def current_request_id() -> str | None:
    """The id of the request being served (or, in a job, of the request that enqueued it), for the jobs it enqueues.

    The job's context first: a job run in-process has an app context of its own, whose `g` lacks the request's id.
    """
    in_job = (_log_context.get() or {}).get("request_id")
    return in_job or (g.get("request_id") if has_request_context() else None)


@contextlib.contextmanager
def log_context(**fields):
    """Every log line written inside carries `fields` (None values left out), e.g. a job's id and request id."""
    token = _log_context.set({key: value for key, value in fields.items() if value is not None})
    try:
        yield
    finally:
        _log_context.reset(token)


class ContextFilter(logging.Filter):
    """Adds the request id (in a request) or the job's ids (in a job) to a record's JSON fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = dict(_log_context.get() or {})
        if has_request_context() and g.get("request_id"):
            context.setdefault("request_id", g.request_id)
        if context:
            record.fields = {**context, **getattr(record, "fields", {})}
        return True


def _configure_handlers(app) -> None:
    root = logging.getLogger()
    if app.config.get("JSON_LOGS"):
        if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(JsonFormatter())
            handler.addFilter(ContextFilter())
            root.addHandler(handler)
        root.setLevel(logging.INFO)
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # start-up chatter, not events
    elif not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    elif not app.testing:
        # `make run`: the console mail backend's emails (welcome links, invitations) must reach the terminal.
        mail_log = logging.getLogger("app.comms.mail")
        if not mail_log.handlers:
            mail_log.addHandler(logging.StreamHandler(sys.stderr))
            mail_log.setLevel(logging.INFO)


def init_sentry(app) -> bool:
    """Report errors to Sentry when SENTRY_DSN is set. SENTRY_OPTIONS (a dict) passes extra init options."""
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[FlaskIntegration()],
        environment=app.config["CONFIG_NAME"],
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
        **app.config.get("SENTRY_OPTIONS", {}),
    )
    app.extensions["sentry"] = True
    return True


def _user_id() -> str | None:
    user = g.get("_login_user")  # Flask-Login's cache: no extra query just for the log line
    # The row's key, read without loading the row (an anonymous user has none): after a commit the row is
    # expired, and the database may be gone by the time the line is written.
    state = getattr(user, "_sa_instance_state", None)
    return str(state.identity[0]) if state is not None and state.identity else None


def register_logging(app) -> None:
    """Request ids on every request; one JSON line per request when JSON_LOGS is on; Sentry when configured."""
    _configure_handlers(app)
    sentry = init_sentry(app)
    logger = logging.getLogger(REQUEST_LOG)

    # Registered before every other before_request hook, so even a refused request has its id.
    @app.before_request
    def start_request():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()
        if sentry:
            import sentry_sdk

            sentry_sdk.get_isolation_scope().set_tag("request_id", g.request_id)

    @app.after_request
    def log_request(response):
        if app.config.get("JSON_LOGS"):
            started = g.get("request_started", time.perf_counter())
            fields = {
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "user_id": _user_id(),
                "request_id": g.get("request_id"),
                "remote_addr": request.remote_addr,
            }
            logger.info("%s %s %s", request.method, request.path, response.status_code, extra={"fields": fields})
        return response
