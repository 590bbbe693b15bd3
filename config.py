"""Configuration classes. Every class honours DATABASE_URL and REDIS_URL when they are set."""

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _database_url(default: str | None, *names: str) -> str | None:
    url = next((os.environ[n] for n in (*names, "DATABASE_URL") if os.environ.get(n)), None) or default
    # psycopg 3 is the driver we ship; accept the common spellings of a PostgreSQL URL.
    if url and url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.lower() in {"1", "true", "yes", "on"}


def _platform_bank() -> dict:
    """The platform's bank account, shown to partners beside the bank-transfer option (PLATFORM_BANK_*)."""
    names = {
        "Account name": "PLATFORM_BANK_ACCOUNT_NAME",
        "Bank": "PLATFORM_BANK_NAME",
        "Account number": "PLATFORM_BANK_ACCOUNT_NUMBER",
        "Routing number": "PLATFORM_BANK_ROUTING_NUMBER",
        "SWIFT/BIC": "PLATFORM_BANK_SWIFT",
    }
    return {label: os.environ[name].strip() for label, name in names.items() if os.environ.get(name, "").strip()}


DEMO_PLATFORM_BANK = {  # make run's stand-in (a fictitious account) when no PLATFORM_BANK_* is set
    "Account name": "LeadFlow PM Inc. (demo)",
    "Bank": "Demo Bank of Example",
    "Account number": "000123456789",
    "Routing number": "021000021",
    "SWIFT/BIC": "DEMOUS33",
}


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-secret")
    # Fernet keys, comma-separated, newest first (app/crypto.py); required in production. Without it,
    # development and tests derive one key from SECRET_KEY.
    ENCRYPTION_KEYS = os.environ.get("ENCRYPTION_KEYS") or None
    SQLALCHEMY_DATABASE_URI = _database_url(f"sqlite:///{BASE_DIR / 'instance' / 'leadflow.db'}")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL") or None
    RQ_QUEUE = os.environ.get("RQ_QUEUE", "leadflow")
    # Redis is a helper, not a dependency: give up fast, skip it for a few seconds after a failure, and let
    # the sweeper (flask worker, flask requeue-stranded) enqueue what waited in the database meanwhile.
    REDIS_CONNECT_TIMEOUT = float(os.environ.get("REDIS_CONNECT_TIMEOUT", "0.5"))
    REDIS_SOCKET_TIMEOUT = float(os.environ.get("REDIS_SOCKET_TIMEOUT", "2"))
    REDIS_RETRY_SECONDS = float(os.environ.get("REDIS_RETRY_SECONDS", "5"))
    STRANDED_GRACE_SECONDS = int(os.environ.get("STRANDED_GRACE_SECONDS", "300"))
    SWEEP_INTERVAL_SECONDS = int(os.environ.get("SWEEP_INTERVAL_SECONDS", "60"))
    LIVE_OUTAGE_POLL_SECONDS = int(os.environ.get("LIVE_OUTAGE_POLL_SECONDS", "15"))
    # Processes and threads (gunicorn.conf.py reads the same variables). More than one process (web workers, the
    # websocket and worker processes) share notifications and jobs only through Redis: production refuses to start
    # without REDIS_URL unless LEADFLOW_SINGLE_PROCESS=1 declares a one-process deployment (WEB_CONCURRENCY=1).
    WEB_CONCURRENCY = int(os.environ.get("WEB_CONCURRENCY") or 2)
    WEB_THREADS = int(os.environ.get("WEB_THREADS") or 16)
    SINGLE_PROCESS = _bool("LEADFLOW_SINGLE_PROCESS")
    # PostgreSQL connections per process: one per request thread, plus a few for the app's own threads and bursts.
    DB_POOL_SIZE = int(os.environ.get("DB_POOL_SIZE") or WEB_THREADS)
    DB_MAX_OVERFLOW = int(os.environ.get("DB_MAX_OVERFLOW") or 4)
    # The live tier (Procfile `websocket`, gunicorn_live.conf.py). LIVE_SOCKET_URL is where the page's live.js
    # opens its socket: empty = this process on the page's own origin (`make run`); an absolute ws(s):// URL
    # (same host, other port) or a path a reverse proxy routes to the live tier (deploy/proxy/nginx.conf).
    # When it is set, page processes answer /ws/ with 404 at once instead of holding a thread per open tab.
    LIVE_SOCKET_URL = os.environ.get("LIVE_SOCKET_URL", "").strip()
    # Set by gunicorn_live.conf.py in the live tier's processes: they serve /ws/ whatever LIVE_SOCKET_URL says.
    LIVE_TIER = _bool("LIVE_TIER")
    # Set by gunicorn.conf.py in the threaded page workers: they never serve /ws/ (a socket would hold a thread);
    # with no live tier configured the pages poll the badge instead.
    PAGE_TIER = _bool("PAGE_TIER")
    # Open sockets one user may hold in one live process: a script with one login cannot take the tier's
    # connections from everyone else. A tab past the limit polls the badge until one closes.
    LIVE_SOCKETS_PER_USER = int(os.environ.get("LIVE_SOCKETS_PER_USER") or 20)

    WTF_CSRF_TIME_LIMIT = None  # a board left open all day must not go stale
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    SESSION_IDLE_TIMEOUT = timedelta(minutes=int(os.environ.get("SESSION_IDLE_MINUTES", "120")))
    SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=int(os.environ.get("SESSION_ABSOLUTE_HOURS", "24")))
    PERMANENT_SESSION_LIFETIME = SESSION_ABSOLUTE_TIMEOUT
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute")  # per account (or known device)
    LOGIN_ADDRESS_RATE_LIMIT = os.environ.get("LOGIN_ADDRESS_RATE_LIMIT", "30 per minute")  # per client address
    # The second login step (/auth/mfa), per account and per client address; and whether admins and super admins
    # must use MFA (on in production, off elsewhere so the README's demo logins work).
    MFA_RATE_LIMIT = os.environ.get("MFA_RATE_LIMIT", "5 per minute")
    MFA_REQUIRED_FOR_STAFF = _bool("MFA_REQUIRED_FOR_STAFF")
    # Sign-up per client address; reset requests per address and per email; confirmation resends per user;
    # staff invites per inviting super admin.
    SIGNUP_RATE_LIMIT = os.environ.get("SIGNUP_RATE_LIMIT", "10 per hour")
    RESET_RATE_LIMIT = os.environ.get("RESET_RATE_LIMIT", "5 per hour")
    CONFIRM_RESEND_RATE_LIMIT = os.environ.get("CONFIRM_RESEND_RATE_LIMIT", "3 per hour")
    STAFF_INVITE_RATE_LIMIT = os.environ.get("STAFF_INVITE_RATE_LIMIT", "20 per hour")
    # The public request form (/request/<slug>): POSTs per client address, and submissions per (normalised) email.
    PUBLIC_FORM_RATE_LIMIT = os.environ.get("PUBLIC_FORM_RATE_LIMIT", "20/hour")
    PUBLIC_FORM_EMAIL_RATE_LIMIT = os.environ.get("PUBLIC_FORM_EMAIL_RATE_LIMIT", "5/day")
    # Visits a client address records through referral links (/r/<code>); past it the link still works, uncounted.
    REFERRAL_VISIT_RATE_LIMIT = os.environ.get("REFERRAL_VISIT_RATE_LIMIT", "60/hour")
    # Phone numbers typed without a country code are read as this region's (ISO 3166 code) for E.164.
    PHONE_DEFAULT_REGION = os.environ.get("PHONE_DEFAULT_REGION", "US")
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or None  # default: REDIS_URL, else memory
    HSTS = False

    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))  # reverse proxies in front whose X-Forwarded-* count
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    SUBDOMAIN_MODE = _bool("SUBDOMAIN_MODE")
    SERVER_NAME = os.environ.get("SERVER_NAME") or None

    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "console")  # console | smtp
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_USE_TLS = _bool("MAIL_USE_TLS")
    MAIL_USE_SSL = _bool("MAIL_USE_SSL")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "LeadFlow PM <no-reply@leadflowpm.test>")
    # A folder where the console/memory backends keep each email for /super/mailbox (never in production).
    DEV_MAILBOX = os.environ.get("DEV_MAILBOX") or None

    STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "local")  # local | s3
    STORAGE_LOCAL_DIR = os.environ.get("STORAGE_LOCAL_DIR") or str(BASE_DIR / "instance" / "uploads")
    S3_BUCKET = os.environ.get("S3_BUCKET") or None
    S3_REGION = os.environ.get("S3_REGION", "us-east-1")
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or None
    S3_ACCESS_KEY_ID = os.environ.get("S3_ACCESS_KEY_ID") or None
    S3_SECRET_ACCESS_KEY = os.environ.get("S3_SECRET_ACCESS_KEY") or None
    S3_PRESIGN_SECONDS = int(os.environ.get("S3_PRESIGN_SECONDS", "300"))
    # Backups (flask backup / restore / restore-drill, app/ops/backups.py): the key for --encrypt (32 random bytes,
    # URL-safe base64), and the S3 endpoint and credentials for s3:// targets when not the storage's S3_* ones.
    # BACKUP_DATABASE_URL: the role pg_dump reads as (default DATABASE_URL, the app's role; e.g. a read-only role).
    BACKUP_ENCRYPTION_KEY = os.environ.get("BACKUP_ENCRYPTION_KEY") or None
    BACKUP_DATABASE_URL = os.environ.get("BACKUP_DATABASE_URL") or None
    BACKUP_S3_ENDPOINT_URL = os.environ.get("BACKUP_S3_ENDPOINT_URL") or None
    BACKUP_S3_REGION = os.environ.get("BACKUP_S3_REGION") or None
    BACKUP_S3_ACCESS_KEY_ID = os.environ.get("BACKUP_S3_ACCESS_KEY_ID") or None
    BACKUP_S3_SECRET_ACCESS_KEY = os.environ.get("BACKUP_S3_SECRET_ACCESS_KEY") or None
    MAX_UPLOAD_BYTES = int(os.environ.get("MAX_UPLOAD_BYTES", str(10 * 1024 * 1024)))
    MAX_CONTENT_LENGTH = MAX_UPLOAD_BYTES + 1024 * 1024  # room for the other form fields
    # What an uploaded file may cost to check, read from its header before anything is decoded (see
    # app/files/checks.py): a logo, avatar or photographed slip needs far less than Pillow's 89 MP bomb limit.
    MAX_IMAGE_PIXELS = int(os.environ.get("MAX_IMAGE_PIXELS", str(40_000_000)))  # all frames together
    MAX_IMAGE_DECODE_BYTES = int(os.environ.get("MAX_IMAGE_DECODE_BYTES", str(128 * 1024 * 1024)))
    MAX_IMAGE_FRAMES = int(os.environ.get("MAX_IMAGE_FRAMES", "100"))
    MAX_IMAGE_METADATA_BYTES = int(os.environ.get("MAX_IMAGE_METADATA_BYTES", str(2 * 1024 * 1024)))
    MAX_ARCHIVE_UNPACKED_BYTES = int(os.environ.get("MAX_ARCHIVE_UNPACKED_BYTES", str(100 * 1024 * 1024)))
    MAX_ARCHIVE_ENTRIES = int(os.environ.get("MAX_ARCHIVE_ENTRIES", "5000"))
    MAX_ARCHIVE_RATIO = int(os.environ.get("MAX_ARCHIVE_RATIO", "500"))  # unpacked : packed, per part

    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY") or None
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET") or None
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE") or None  # a local stub in tests
    STRIPE_CURRENCY = os.environ.get("STRIPE_CURRENCY", "usd")
    PLATFORM_BANK = _platform_bank()  # {label: value}; empty: partners are told to ask for the details

    # The public API (SPEC 9.5): requests per API key or per user, and the lifetimes of user tokens.
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600 per minute")
    API_ACCESS_TOKEN_SECONDS = int(os.environ.get("API_ACCESS_TOKEN_SECONDS", "900"))
    API_REFRESH_TOKEN_DAYS = int(os.environ.get("API_REFRESH_TOKEN_DAYS", "30"))
    # Outbound webhooks: a URL resolving to a private, loopback or link-local address is refused unless allowed.
    WEBHOOK_ALLOW_PRIVATE = _bool("WEBHOOK_ALLOW_PRIVATE")
    WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
    # Seconds before each retry of a failed webhook delivery; after the last one it is marked failed.
    WEBHOOK_RETRY_SECONDS = os.environ.get("WEBHOOK_RETRY_SECONDS", "30,120,600,3600,21600")
    # Text messages: "console" logs them; "twilio" sends through Twilio's client (TWILIO_API_BASE: a local stub).
    SMS_BACKEND = os.environ.get("SMS_BACKEND", "console")
    TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID") or None
    TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN") or None
    TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER") or None
    TWILIO_API_BASE = os.environ.get("TWILIO_API_BASE") or None

    FEE_OVERDUE_DAYS = int(os.environ.get("FEE_OVERDUE_DAYS", "30"))
    CURRENCY_SYMBOL = os.environ.get("CURRENCY_SYMBOL", "$")
    SENTRY_DSN = os.environ.get("SENTRY_DSN") or None
    # GET /metrics (Prometheus): a bearer token and/or client networks (comma-separated CIDRs). Neither set: loopback
    # only; a token alone: any address presenting it; both: both must pass (app/ops/metrics_access.py).
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None
    METRICS_ALLOW_NETWORKS = os.environ.get("METRICS_ALLOW_NETWORKS") or None
    JSON_LOGS = _bool("JSON_LOGS")
    REPORT_PDF_JOB_THRESHOLD = int(os.environ.get("REPORT_PDF_JOB_THRESHOLD", "2000"))
    # Benchmark only (bench/run.py): the /bench/floor endpoint and the X-Query-Count header.
    BENCH_FLOOR = _bool("BENCH_FLOOR")
    BENCH_QUERY_COUNT = _bool("BENCH_QUERY_COUNT")


class DevelopmentConfig(Config):
    DEBUG = True
    PLATFORM_BANK = _platform_bank() or DEMO_PLATFORM_BANK
    DEV_MAILBOX = os.environ.get("DEV_MAILBOX") or str(BASE_DIR / "instance" / "dev-mailbox")


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    # TEST_DATABASE_URL first, so a developer's DATABASE_URL is never wiped by the suite by accident.
    SQLALCHEMY_DATABASE_URI = _database_url("sqlite://", "TEST_DATABASE_URL")
    WTF_CSRF_ENABLED = False
    LOGIN_RATE_LIMIT = "10 per minute"
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "memory")
    PASSWORD_HASH_FAST = True  # argon2 with tiny cost keeps the suite quick


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    HSTS = True
    JSON_LOGS = True
    MFA_REQUIRED_FOR_STAFF = _bool("MFA_REQUIRED_FOR_STAFF", True)
    SQLALCHEMY_DATABASE_URI = _database_url(None)


CONFIGS = {"development": DevelopmentConfig, "test": TestConfig, "production": ProductionConfig}
