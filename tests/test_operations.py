"""Operations: request ids on error pages, JSON request logs, Sentry, and one-line start-up errors."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from app.access import public
from app.production import ConfigurationError, check_config
from tests.conftest import make_app

ROOT = Path(__file__).resolve().parent.parent
STRONG_SECRET = "a-long-random-production-secret-0123456789"
FERNET_KEY = "MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA="  # a valid Fernet key (32 bytes of "0")


def app_with_failing_route(**overrides):
    app = make_app(PROPAGATE_EXCEPTIONS=False, **overrides)

    @public
    def boom():
        raise RuntimeError("kaboom in a view")

    app.add_url_rule("/__boom", "boom", boom)
    return app


def test_error_pages_show_the_request_id(client, login_as):
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert missing.headers["X-Request-ID"] in missing.get_data(as_text=True)
    refused = login_as("admin").get("/super/")
    assert refused.status_code == 403  # refused before any view ran: the id is assigned first
    assert refused.headers["X-Request-ID"] in refused.get_data(as_text=True)


def test_a_server_error_shows_a_page_with_the_request_id():
    client = app_with_failing_route().test_client()
    response = client.get("/__boom", headers={"X-Request-ID": "edge-42.abc"})
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong on our side." in body and "edge-42.abc" in body
    assert "kaboom" not in body and "Traceback" not in body


def test_a_request_id_from_the_proxy_is_kept_only_when_it_looks_like_one(client):
    assert client.get("/healthz", headers={"X-Request-ID": "lb-123_abc"}).headers["X-Request-ID"] == "lb-123_abc"
    forged = client.get("/healthz", headers={"X-Request-ID": 'x" onmouseover=alert(1) ' + "y" * 80})
    assert forged.headers["X-Request-ID"].isalnum() and len(forged.headers["X-Request-ID"]) == 32


PRODUCTION_SCRIPT = """
from app.extensions import db
from app.production import create_or_exit
app = create_or_exit()
with app.app_context():
    db.create_all()
client = app.test_client()
client.get("/healthz", headers={"X-Request-ID": "req-from-proxy-1"})
client.get("/auth/login?next=/secret-token")
client.get("/no-such-page")
"""


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TEST_DATABASE_URL", "REDIS_URL"}}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_production_logs_one_json_line_per_request(tmp_path):
    done = run_python(
        PRODUCTION_SCRIPT,
        LEADFLOW_CONFIG="production",
        SECRET_KEY=STRONG_SECRET,
        ENCRYPTION_KEYS=FERNET_KEY,
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.db'}",
        LEADFLOW_SINGLE_PROCESS="1",  # one process, no Redis (run_python drops REDIS_URL)
        WEB_CONCURRENCY="1",
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["logger"] == "leadflow.request"]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("GET", "/healthz", 200),
        ("GET", "/auth/login", 200),
        ("GET", "/no-such-page", 404),
    ]
    for entry in requests:
        assert entry["duration_ms"] >= 0 and entry["request_id"] and entry["user_id"] is None
    assert requests[0]["request_id"] == "req-from-proxy-1"
    assert "secret-token" not in done.stderr  # the query string stays out of the logs


def test_a_page_worker_loads_the_payment_and_sms_sdks_only_when_it_uses_them(tmp_path):
    """Stripe (with aiohttp) and Twilio's REST stack are ~14 MB a page worker would hold for nothing: the CSV
    export's memory bound (README, Performance) is measured on a worker that has served pages, not payments."""
    done = run_python(
        "import sys; import wsgi; print(sorted(m for m in ('stripe', 'aiohttp', 'twilio.rest') if m in sys.modules))",
        DATABASE_URL=f"sqlite:///{tmp_path / 'pages.db'}",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_log_line_names_the_signed_in_user(login_as, caplog):
    client = login_as("admin")
    with caplog.at_level("INFO", logger="leadflow.request"):
        client.application.config["JSON_LOGS"] = True
        try:
            client.get("/admin/")
        finally:
            client.application.config["JSON_LOGS"] = False
    fields = [r.fields for r in caplog.records if r.name == "leadflow.request"]
    assert len(fields) == 1 and fields[0]["user_id"] and fields[0]["status"] == 200


class CapturingTransport(Transport):
    events: list = []

    def capture_envelope(self, envelope):
        for item in envelope.items:
            if item.type == "event":
                CapturingTransport.events.append(item.payload.json)


@pytest.fixture
def sentry_events():
    CapturingTransport.events = []
    yield CapturingTransport.events
    sentry_sdk.init(dsn=None)  # switch the SDK off again for the rest of the suite


def test_sentry_reports_server_errors_with_the_request_id(sentry_events):
    app = app_with_failing_route(
        SENTRY_DSN="https://public@sentry.example/1", SENTRY_OPTIONS={"transport": CapturingTransport}
    )
    assert app.extensions.get("sentry") is True
    response = app.test_client().get("/__boom", headers={"X-Request-ID": "req-to-sentry"})
    assert response.status_code == 500
    sentry_sdk.flush()
    assert len(sentry_events) == 1
    event = sentry_events[0]
    assert event["exception"]["values"][-1]["value"] == "kaboom in a view"
    assert event["tags"]["request_id"] == "req-to-sentry"


def test_without_a_dsn_sentry_stays_off():
    assert make_app().extensions.get("sentry") is None


def start(*command: str, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TEST_DATABASE_URL", "SECRET_KEY"}}
    return subprocess.run(
        list(command),
        cwd=ROOT,
        env={**base, "FLASK_APP": "wsgi.py", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


FLASK = (sys.executable, "-m", "flask", "--app", "wsgi.py", "routes")
GUNICORN_IMPORT = (sys.executable, "-c", "import wsgi")


@pytest.mark.parametrize(
    "env, message",
    [
        ({"LEADFLOW_CONFIG": "production"}, "SECRET_KEY must be set"),
        ({"LEADFLOW_CONFIG": "production", "SECRET_KEY": "short"}, "SECRET_KEY is too short"),
        ({"LEADFLOW_CONFIG": "production", "SECRET_KEY": STRONG_SECRET}, "DATABASE_URL must be set"),
        (
            {
                "LEADFLOW_CONFIG": "production",
                "SECRET_KEY": STRONG_SECRET,
                "DATABASE_URL": "postgresql://leadflow:hunter2@127.0.0.1:9/leadflow",
                "ENCRYPTION_KEYS": FERNET_KEY,
                "REDIS_URL": "redis://127.0.0.1:9/0",  # only required to be set: start-up does not connect to it
            },
            "cannot reach the database",
        ),
        (
            {
                "LEADFLOW_CONFIG": "production",
                "SECRET_KEY": STRONG_SECRET,
                "DATABASE_URL": "sqlite:///x.db",
                "ENCRYPTION_KEYS": FERNET_KEY,
                "REDIS_URL": "",
            },
            "REDIS_URL must be set in production",
        ),
        (
            {
                "LEADFLOW_CONFIG": "production",
                "SECRET_KEY": STRONG_SECRET,
                "DATABASE_URL": "sqlite:///x.db",
                "ENCRYPTION_KEYS": FERNET_KEY,
                "REDIS_URL": "",
                "LEADFLOW_SINGLE_PROCESS": "1",
            },
            "LEADFLOW_SINGLE_PROCESS=1 with WEB_CONCURRENCY=2",
        ),
        (
            {"LEADFLOW_CONFIG": "production", "SECRET_KEY": STRONG_SECRET, "DATABASE_URL": "sqlite:///x.db"},
            "ENCRYPTION_KEYS must be set in production; make a key with: python -c",
        ),
        (
            {
                "LEADFLOW_CONFIG": "production",
                "SECRET_KEY": STRONG_SECRET,
                "DATABASE_URL": "sqlite:///x.db",
                "ENCRYPTION_KEYS": f"{FERNET_KEY},not-a-key",
            },
            "ENCRYPTION_KEYS entry 2 is not a Fernet key",
        ),
        ({"LEADFLOW_CONFIG": "staging"}, "LEADFLOW_CONFIG must be one of"),
        ({"STORAGE_BACKEND": "s3"}, "STORAGE_BACKEND=s3 needs S3_BUCKET"),
    ],
)
@pytest.mark.parametrize("command", [FLASK, GUNICORN_IMPORT], ids=["flask", "wsgi-import"])
def test_bad_configuration_stops_with_one_clear_line(env, message, command):
    done = start(*command, **env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("LeadFlow PM cannot start: ") and message in lines[0], done.stderr
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr


def test_a_good_configuration_starts(tmp_path):
    done = start(*FLASK, DATABASE_URL=f"sqlite:///{tmp_path / 'dev.db'}")
    assert done.returncode == 0, done.stderr
    assert "admin.audit_log" in done.stdout


def test_check_config_accepts_the_test_configuration(app):
    check_config(app)
    app.config["CONFIG_NAME"], saved = "production", app.config["SECRET_KEY"]
    try:
        with pytest.raises(ConfigurationError, match="too short"):
            check_config(app)
    finally:
        app.config["CONFIG_NAME"], app.config["SECRET_KEY"] = "test", saved


def _locked(name: str) -> dict[str, str]:
    """Each requirement of a lock file (continuations joined) by its `name==version`, mapped to its options."""
    text = (ROOT / name).read_text().replace("\\\n", " ")
    entries = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return {entry.split()[0]: entry for entry in entries if entry}


def _plain(pin: str) -> str:
    return re.sub(r"\[.*?\]", "", pin).lower().replace("_", "-")


def test_every_requirement_is_pinned_to_one_version():
    """The audit checks exactly what is deployed only if the lock names one version and its hashes for every package,
    transitive ones included, and one hashed install of the dev lock sets up the runtime set at the same versions."""
    runtime, dev = _locked("requirements.txt"), _locked("requirements-dev.txt")
    assert len(runtime) > 60 and len(dev) > len(runtime)
    for name, entries in (("requirements.txt", runtime), ("requirements-dev.txt", dev)):
        loose = [pin for pin, entry in entries.items() if "==" not in pin or "--hash=sha256:" not in entry]
        assert not loose, f"{name}: {loose}"
    assert set(runtime) <= set(dev), set(runtime) - set(dev)
    top_level = [line.split("#", 1)[0].strip() for line in (ROOT / "requirements.in").read_text().splitlines()]
    missing = [pin for pin in top_level if pin and _plain(pin) not in {_plain(p) for p in runtime}]
    assert not missing, f"requirements.in pins that the lock does not hold (run make lock): {missing}"
