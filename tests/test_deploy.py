"""The deployment kit (issue 21, items 4 and 6): .env.example, gunicorn.conf.py, the Procfile, deploy/compose.yaml and
deploy/Dockerfile agree with the app; production needs Redis for more than one process and sizes its database pool to
its threads; a request's id reaches the log lines of the jobs it enqueues, in the real RQ worker."""

import importlib.util
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from app.extensions import db
from app.production import ContextFilter
from tests import factories
from tests.conftest import make_app, redis_url, requires_postgres, requires_redis
from tests.rq_support import redis_mode, run_worker
from tests.test_operations import FERNET_KEY, STRONG_SECRET, run_python

ROOT = Path(__file__).resolve().parent.parent
# os.environ.get("X", ...), os.environ["X"], os.getenv("X"), and config.py's and the confs' _bool("X") / _int("X").
READS = re.compile(r"""(?:os\.environ\.get|os\.environ\[|os\.getenv|_bool|_int)\(?\s*["']([A-Z][A-Z0-9_]+)["']""")
# Read through config._database_url's loop over names, which the pattern above cannot see.
INDIRECT = {"DATABASE_URL"}
APP_PROCESSES = {"release", "web", "websocket", "worker"}


def variables_read() -> set[str]:
    sources = [ROOT / "config.py", ROOT / "wsgi.py", *ROOT.glob("gunicorn*.conf.py"), *(ROOT / "app").rglob("*.py")]
    return {name for path in sources for name in READS.findall(path.read_text())} | INDIRECT


def documented() -> dict[str, str]:
    """The names of .env.example, set (`X=...`) or shown commented out with their default (`# X=...`)."""
    found = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found[match[1]] = match[2]
    return found


def test_env_example_lists_every_variable_the_app_reads():
    read = variables_read()
    assert {"SECRET_KEY", "REDIS_URL", "WEB_THREADS", "DB_POOL_SIZE", "PORT"} <= read  # the parser sees them
    missing = sorted(read - set(documented()))
    assert not missing, f".env.example lacks {missing}"


def test_env_example_shows_the_defaults_the_app_uses():
    env = documented()
    assert env["WEB_CONCURRENCY"] == "2" and env["WEB_THREADS"] == "16" and env["DB_POOL_SIZE"] == "16"
    assert env["RQ_QUEUE"] == "leadflow" and env["LEADFLOW_CONFIG"] == "production"
    assert env["SECRET_KEY"] == "" and env["ENCRYPTION_KEYS"] == ""  # never a usable secret in the example


def load_conf(monkeypatch, name: str = "gunicorn.conf.py", **env):
    unset = ("WEB_CONCURRENCY", "WEB_THREADS", "PORT", "HOST", "JSON_LOGS", "LEADFLOW_CONFIG", "WEB_TIMEOUT")
    for key in (*unset, "LIVE_SOCKET_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PAGE_TIER", "0")  # the conf sets it for its workers: restored when the test ends
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    spec = importlib.util.spec_from_file_location("gunicorn_conf_under_test", ROOT / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gunicorn_conf_defaults_are_todays_production_command(monkeypatch):
    conf = load_conf(monkeypatch)
    assert (conf.worker_class, conf.workers, conf.threads) == ("gthread", 2, 16)
    assert conf.bind == "0.0.0.0:5000" and conf.timeout == 120 and conf.graceful_timeout == 30
    assert conf.accesslog == "-" and not hasattr(conf, "logconfig_dict") and conf.preload_app is False


def test_gunicorn_conf_reads_the_environment(monkeypatch):
    conf = load_conf(
        monkeypatch, WEB_CONCURRENCY="3", WEB_THREADS="8", PORT="5401", WEB_TIMEOUT="60", LEADFLOW_CONFIG="production"
    )
    assert (conf.workers, conf.threads, conf.bind, conf.timeout) == (3, 8, "0.0.0.0:5401", 60)
    # Production logs JSON: no second access log beside the app's request lines, gunicorn's own lines as JSON.
    assert conf.accesslog is None
    assert conf.logconfig_dict["formatters"]["json"]["()"] == "app.production.JsonFormatter"


GUNICORN_LOGGING = """
import logging
from gunicorn.app.base import Application
from gunicorn.glogging import Logger

class Conf(Application):
    def load_config(self):
        self.load_config_from_file("gunicorn.conf.py")

    def load(self):
        pass

Logger(Conf().cfg).error("worker %s timed out", 4242)
print(len(logging.getLogger("gunicorn.access").handlers), len(logging.getLogger().handlers))
"""


def test_gunicorn_logs_its_own_lines_as_json_in_production():
    """gunicorn's Logger applies the conf's logconfig_dict over its defaults, as the real server does at start."""
    done = run_python(GUNICORN_LOGGING, LEADFLOW_CONFIG="production")
    assert done.returncode == 0, done.stderr
    [line] = [json.loads(line) for line in done.stderr.splitlines()]
    assert (line["logger"], line["level"], line["message"]) == ("gunicorn.error", "ERROR", "worker 4242 timed out")
    assert done.stdout.split() == ["0", "0"]  # no access log; the root logger is left to the app's JSON handler


def test_gunicorn_conf_prepares_the_metrics_directory_and_reports_dead_workers(monkeypatch, tmp_path, caplog):
    conf = load_conf(monkeypatch)
    server = SimpleNamespace(log=logging.getLogger("gunicorn.error"))
    stale = tmp_path / "counter_4242.db"
    stale.write_bytes(b"old")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    conf.on_starting(server)
    assert not stale.exists() and tmp_path.is_dir()  # counters of the previous run are not added to the new ones
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    conf.on_starting(server)
    assert "LIVE_SOCKET_URL is not set: no live tier" in caplog.text  # the operator hears that tabs will poll
    made = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert made.is_dir() and made.name.startswith("leadflow-metrics-")
    os.rmdir(made)

    import app.ops.metrics

    dead = []
    monkeypatch.setattr(app.ops.metrics, "mark_process_dead", dead.append)
    conf.child_exit(None, type("Worker", (), {"pid": 4242})())
    assert dead == [4242]


def procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {name: shlex.split(command) for name, _, command in (line.partition(": ") for line in lines if line)}


def test_procfile_commands_name_real_programs_and_files():
    processes = procfile()
    assert processes["web"] == ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    assert processes["worker"][-1] == "worker" and processes["release"][-2:] == ["db", "upgrade"]
    for command in processes.values():
        assert (ROOT / "wsgi.py").exists()
        if command[0] == "gunicorn":
            assert (ROOT / command[command.index("-c") + 1]).exists(), command
        else:
            assert command[:3] == ["flask", "--app", "wsgi.py"], command


def test_gunicorn_accepts_the_web_configuration_and_loads_the_app(tmp_path):
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TEST_DATABASE_URL", "REDIS_URL"}}
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env={**base, "DATABASE_URL": f"sqlite:///{tmp_path / 'check.db'}", "PORT": "5402"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def compose() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_compose_runs_every_process_of_the_procfile_with_healthchecks():
    services = compose()["services"]
    assert APP_PROCESSES | {"postgres", "redis", "mailpit"} <= set(services)
    processes = procfile()
    assert services["web"]["command"] == processes["web"]
    assert services["worker"]["command"] == ["flask", "worker"] and services["release"]["command"][-2:] == [
        "db",
        "upgrade",
    ]
    assert services["websocket"]["command"][:3] == ["gunicorn", "-c", "gunicorn_live.conf.py"]
    assert (
        ROOT / services["web"]["build"]["context"].replace("..", ".") / services["web"]["build"]["dockerfile"]
    ).exists()
    for name, service in services.items():
        if name == "release":  # runs once, then the others start
            assert service["restart"] == "no" and service["healthcheck"]["disable"] is True
            continue
        assert service["healthcheck"]["test"][0] == "CMD", name
    for name in APP_PROCESSES - {"release"}:
        needs = services[name]["depends_on"]
        assert needs["release"]["condition"] == "service_completed_successfully"
        assert needs["postgres"]["condition"] == needs["redis"]["condition"] == "service_healthy"
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://redis:")
        assert any(volume.endswith(":/app/instance/uploads") for volume in services[name]["volumes"])


def test_dockerfile_runs_unprivileged_from_the_hashed_lock_with_the_apps_healthcheck():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "pip install --require-hashes --no-deps -r /tmp/requirements.txt" in dockerfile
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and user[-1].split(":")[0] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", dockerfile, re.M)
    assert dockerfile.rstrip().endswith('CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]')
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".git", ".venv", ".env", "tests", "instance"} <= set(ignored)


PRODUCTION = {
    "LEADFLOW_CONFIG": "production",
    "SECRET_KEY": STRONG_SECRET,
    "ENCRYPTION_KEYS": FERNET_KEY,
}
START = "from app.production import create_or_exit; app = create_or_exit(); print(app.config['REDIS_URL'])"


@pytest.mark.parametrize(
    "env",
    [{"REDIS_URL": "redis://127.0.0.1:6379/5"}, {"LEADFLOW_SINGLE_PROCESS": "1", "WEB_CONCURRENCY": "1"}],
    ids=["with-redis", "one-process"],
)
def test_production_starts_with_redis_or_as_one_declared_process(env, tmp_path):
    done = run_python(START, **PRODUCTION, DATABASE_URL=f"sqlite:///{tmp_path / 'prod.db'}", **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(env.get("REDIS_URL"))


def test_production_without_redis_names_the_fix(tmp_path):
    done = run_python(START, **PRODUCTION, DATABASE_URL=f"sqlite:///{tmp_path / 'prod.db'}")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "LeadFlow PM cannot start: REDIS_URL must be set in production: the web workers, the websocket and worker "
        "processes share notifications and jobs through it (a one-process deployment sets LEADFLOW_SINGLE_PROCESS=1 "
        "and WEB_CONCURRENCY=1)."
    )


def test_the_pool_size_follows_the_threads():
    done = run_python("from config import Config as C; print(C.WEB_THREADS, C.DB_POOL_SIZE, C.DB_MAX_OVERFLOW)")
    assert done.stdout.split() == ["16", "16", "4"], done.stderr
    done = run_python("from config import Config as C; print(C.DB_POOL_SIZE)", WEB_THREADS="24")
    assert done.stdout.split() == ["24"], done.stderr
    done = run_python("from config import Config as C; print(C.DB_POOL_SIZE)", WEB_THREADS="24", DB_POOL_SIZE="30")
    assert done.stdout.split() == ["30"], done.stderr


@requires_postgres
def test_the_postgresql_engine_gets_the_configured_pool():
    app = make_app(DB_POOL_SIZE=7, DB_MAX_OVERFLOW=3)
    with app.app_context():
        try:
            pool = db.engine.pool
            assert (pool.size(), pool._max_overflow) == (7, 3)
        finally:
            db.engine.dispose()


@requires_redis
def test_a_requests_id_is_on_every_log_line_of_the_jobs_it_caused(app, client):
    """/auth/reset enqueues a job that looks the account up and enqueues the email: the real worker's JSON lines for
    both jobs carry the request's id and their own job id; the email's own line (console backend) among them."""
    user = factories.make_user("admin")
    db.session.commit()
    with redis_mode(app) as (_client, queue):
        response = client.post("/auth/reset", data={"email": user.email}, headers={"X-Request-ID": "edge-req-77"})
        assert response.status_code == 200 and response.headers["X-Request-ID"] == "edge-req-77"
        log = run_worker(queue, JSON_LOGS="1", MAIL_BACKEND="console")
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    of_jobs = [line for line in lines if "job_id" in line]
    assert {line["request_id"] for line in of_jobs} == {"edge-req-77"}, log
    assert len({line["job_id"] for line in of_jobs}) == 2  # the lookup job and the email job it enqueued
    [email] = [line for line in lines if line["logger"] == "app.comms.mail"]
    assert email["message"].startswith(f"email to {user.email}") and email["request_id"] == "edge-req-77"
    assert any(line["logger"] == "rq.worker" and "Job OK" in line["message"] for line in of_jobs)
    assert not {"job_id", "request_id"} & set(lines[-1])  # the worker's own lines after the jobs carry neither


def test_without_redis_a_job_run_inside_the_request_logs_with_the_requests_id(app, client):
    """No Redis (development, or a declared one-process production): the job runs in the request, in an app context
    of its own, and its lines still carry the request's id."""
    user = factories.make_user("admin")
    db.session.commit()
    records = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    handler.addFilter(ContextFilter())  # what the JSON handler carries (app/production._configure_handlers)
    mail_log = logging.getLogger("app.comms.mail")
    saved_level = mail_log.level
    mail_log.addHandler(handler)
    mail_log.setLevel(logging.INFO)
    saved_backend, app.config["MAIL_BACKEND"] = app.config["MAIL_BACKEND"], "console"
    try:
        client.post("/auth/reset", data={"email": user.email}, headers={"X-Request-ID": "inproc-9"})
    finally:
        app.config["MAIL_BACKEND"] = saved_backend
        mail_log.removeHandler(handler)
        mail_log.setLevel(saved_level)
    assert [record.fields for record in records] == [{"request_id": "inproc-9"}]
    assert records[0].getMessage().startswith(f"email to {user.email}")


@requires_redis
def test_a_worker_stops_at_once_even_when_its_listener_reads_the_unsubscribe_reply_first():
    """RQ's own unsubscribe() let the command-listener thread read the reply and wait 60 s for a subscription, and
    redis-py's stop() waited for it: one burst worker in a test, or a deploy's SIGTERM, took a minute."""
    import redis

    from app.jobs.worker import JobWorker

    worker = JobWorker(["stop-test"], connection=redis.Redis.from_url(redis_url()))
    worker.subscribe()
    unsubscribe = worker.pubsub.unsubscribe

    def then_busy(*args):  # a busy machine: the listener handles the reply before the worker's next line runs
        unsubscribe(*args)
        time.sleep(0.3)

    worker.pubsub.unsubscribe = then_busy
    started = time.monotonic()
    worker.unsubscribe()
    assert time.monotonic() - started < 3 and not worker.pubsub_thread.is_alive()
