"""GET /metrics: who may scrape it, that the named series are there and move, and multiprocess aggregation."""

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from app.extensions import db
from app.models import EmailOutbox
from app.models.base import utcnow
from app.production import ConfigurationError
from tests import stripe_support
from tests.conftest import make_app, requires_redis
from tests.factories import make_lead, make_partner, make_user
from tests.rq_support import redis_mode

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = {"REMOTE_ADDR": "203.0.113.7"}  # TEST-NET-3: never loopback
TOKEN = "metrics-test-token-0123456789"


def scrape(client, **kwargs) -> dict:
    """{(sample name, frozenset of labels): value} from one real scrape."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain; version=")
    return samples(response.get_data(as_text=True))


def samples(text: str) -> dict:
    return {
        (s.name, frozenset(s.labels.items())): s.value for f in text_string_to_metric_families(text) for s in f.samples
    }


def value(scraped: dict, name: str, **labels) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


# --- access -------------------------------------------------------------------------------------


def test_without_a_token_only_loopback_scrapes_and_a_session_changes_nothing(app, client, login_as):
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 403
    superadmin = login_as("super_admin")
    assert superadmin.get("/metrics", environ_base=OUTSIDE).status_code == 403  # a cookie is not a credential
    # Through a reverse proxy that is not trusted, remote_addr is the proxy's loopback: the client is unknown.
    assert client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.4"}).status_code == 403


def test_a_token_admits_from_anywhere_unless_networks_narrow_it(app, client, monkeypatch, login_as):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert login_as("super_admin").get("/metrics").status_code == 401
    assert client.get("/metrics", headers=bearer, environ_base=OUTSIDE).status_code == 200
    monkeypatch.setitem(app.config, "METRICS_ALLOW_NETWORKS", "10.0.0.0/8, 192.168.0.0/16")
    assert client.get("/metrics", headers=bearer, environ_base=OUTSIDE).status_code == 403
    assert client.get("/metrics", headers=bearer, environ_base={"REMOTE_ADDR": "10.4.5.6"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.4.5.6"}).status_code == 401


def test_a_malformed_network_stops_the_start():
    with pytest.raises(ConfigurationError, match="METRICS_ALLOW_NETWORKS"):
        make_app(METRICS_ALLOW_NETWORKS="10.0.0.0/33")


# --- series that move -----------------------------------------------------------------------------


def test_requests_are_timed_by_endpoint_never_by_path(client):
    before = scrape(client)
    client.get("/healthz")
    client.get(f"/no-such-page/{uuid.uuid4()}")
    after = scrape(client)
    count = "leadflow_http_request_duration_seconds_count"
    assert value(after, count, endpoint="core.healthz", method="GET", status="200") == (
        value(before, count, endpoint="core.healthz", method="GET", status="200") + 1
    )
    assert value(after, count, endpoint="unmatched", method="GET", status="404") >= 1
    assert not any("no-such-page" in str(labels) for _, labels in after)


def test_a_made_up_method_is_one_label_value_not_a_new_series_each(client):
    before = scrape(client)
    for method in ("BREW", "XYZZY", "PROPFIND"):
        assert client.open("/healthz", method=method).status_code == 405
        assert client.open(f"/no-such-page/{method}", method=method).status_code in (404, 405)
    after = scrape(client)
    methods = {dict(labels).get("method") for _, labels in after}
    assert methods.isdisjoint({"BREW", "XYZZY", "PROPFIND"}) and "other" in methods
    count = "leadflow_http_request_duration_seconds_count"
    added = sum(v for (name, labels), v in after.items() if name == count and dict(labels)["method"] == "other")
    added -= sum(v for (name, labels), v in before.items() if name == count and dict(labels)["method"] == "other")
    assert added == 6


def test_stripe_webhook_failures_are_counted_by_reason(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", stripe_support.SECRET)
    before = scrape(client)
    session = {"id": "cs_metrics", "object": "checkout.session", "metadata": {}}
    payload = json.dumps(
        {"id": "evt_metrics", "object": "event", "type": "checkout.session.completed", "data": {"object": session}}
    )
    assert stripe_support.deliver(app, payload, signature="t=1,v1=forged").status_code == 400

    def broken(event):
        raise RuntimeError("the database went away mid-event")

    monkeypatch.setattr("app.money.stripe_events.handle_stripe_event", broken)
    with pytest.raises(RuntimeError):  # TESTING propagates it; in production the error handler answers 500
        stripe_support.deliver(app, payload)
    after = scrape(client)
    for reason in ("rejected", "failed"):
        name = "leadflow_stripe_webhook_failures_total"
        assert value(after, name, reason=reason) == value(before, name, reason=reason) + 1


def test_money_actions_count_what_commits(app, client, login_as):
    name, kind = "leadflow_money_actions_total", {"action": "platform_fee_rule.changed"}
    before = value(scrape(client), name, **kind)
    form = {"fee_type": "percentage", "fee_value": "12", "note": "Metrics check"}
    assert login_as("admin").post("/admin/platform-fees/rule", data=form).status_code == 302
    assert value(scrape(client), name, **kind) == before + 1
    from app.money import fees

    fees.set_global_rule("percentage", Decimal("13"), "rolled back", make_user("admin"))
    db.session.rollback()
    assert value(scrape(client), name, **kind) == before + 1


def test_the_outbox_and_the_routing_backlog_show_what_waits(client):
    old = utcnow() - timedelta(minutes=10)
    for status in ("queued", "queued", "failed", "sent"):
        db.session.add(EmailOutbox(to_email="a@example.com", template="t", subject="s", status=status, created_at=old))
    make_lead(intake_status="pending_review")
    make_lead()  # approved, waiting for a partner
    make_lead(make_partner())  # distributed: not waiting
    db.session.commit()
    scraped = scrape(client)
    assert value(scraped, "leadflow_email_outbox", state="queued") == 2
    assert value(scraped, "leadflow_email_outbox", state="failed") == 1
    assert 600 <= value(scraped, "leadflow_email_outbox_oldest_pending_seconds") < 900
    assert value(scraped, "leadflow_leads_waiting", state="pending_review") == 1
    assert value(scraped, "leadflow_leads_waiting", state="approved") == 1
    assert value(scraped, "leadflow_database_up") == 1


def test_redis_down_is_a_series_not_an_error(client, monkeypatch):
    import redis

    from app.extensions import redis_handle

    monkeypatch.setattr(redis_handle, "client", redis.Redis(port=1, socket_connect_timeout=0.5))  # nothing listens
    scraped = scrape(client)
    assert value(scraped, "leadflow_redis_up") == 0
    assert not any(name == "leadflow_rq_jobs" for name, _ in scraped)


@requires_redis
def test_queue_depth_reflects_an_enqueued_job(app, client):
    from app.jobs.queue import enqueue

    with redis_mode(app) as (_, queue):
        assert value(scrape(client), "leadflow_rq_jobs", queue=queue, state="queued") == 0
        assert enqueue("app.jobs.tasks.send_email", str(uuid.uuid4())) is not None
        scraped = scrape(client)
    assert value(scraped, "leadflow_redis_up") == 1
    assert value(scraped, "leadflow_rq_jobs", queue=queue, state="queued") == 1
    assert ("leadflow_rq_workers", frozenset({("queue", queue)})) in scraped


@requires_redis
def test_every_series_the_alerts_and_the_dashboard_use_is_scraped(app, client):
    with redis_mode(app):
        response = client.get("/metrics")
    scraped = {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((ROOT / "deploy/grafana/leadflow-dashboard.json").read_text())
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    named = {name for expr in exprs for name in re.findall(r"\bleadflow_[a-z_]+", expr)}
    used = {re.sub(r"_(bucket|count|sum|total)$", "", name) for name in named}  # the family a sample belongs to
    assert len(used) >= 10
    assert used <= scraped, f"named in deploy/ but not scraped: {sorted(used - scraped)}"


# --- multiprocess -----------------------------------------------------------------------------------


def _free_port() -> int:
    for port in range(5200, 5300):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port in 5200-5299")


def _get(url: str, timeout: float = 10) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310  (a local URL the test built)
        return response.read().decode()


def _wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read().decode()[-2000:]
        try:
            _get(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not answer within 30 s")


def test_two_gunicorn_workers_and_their_recycled_successors_add_up_in_one_scrape(tmp_path):
    metrics_dir, port = tmp_path / "prom", _free_port()
    metrics_dir.mkdir()
    conf = tmp_path / "gunicorn_test.py"
    conf.write_text(
        f"bind = '127.0.0.1:{port}'\nworkers = 2\nmax_requests = 3\npreload_app = True\n"
        "def child_exit(server, worker):\n    from app.ops.metrics import mark_process_dead\n"
        "    mark_process_dead(worker.pid)\n"
    )
    target = f"app:create_app('test', SQLALCHEMY_DATABASE_URI='sqlite:///{tmp_path}/g.db', REDIS_URL=None)"
    env = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "LEADFLOW_CONFIG": "test"}
    command = [sys.executable, "-m", "gunicorn", "-c", str(conf), target]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/healthz", server)
        for _ in range(11):  # 12 with the first: each worker is replaced after 3 requests
            _get(f"{base}/healthz")
        scraped = samples(_get(f"{base}/metrics"))
    finally:
        server.terminate()
        server.wait(timeout=30)
    count = value(
        scraped, "leadflow_http_request_duration_seconds_count", endpoint="core.healthz", method="GET", status="200"
    )
    assert count == 12
    pids = {re.search(r"_(\d+)\.db$", f.name).group(1) for f in metrics_dir.glob("histogram_*.db")}
    assert len(pids) >= 4, pids  # at least four workers served them: their files were summed into one scrape


_LIVE_WRITER = """
import os, sys
from app.ops.metrics import live_socket_closed, live_socket_opened
for _ in range(int(sys.argv[1])):
    live_socket_opened()
live_socket_closed()
print(os.getpid())
"""


def test_live_connections_sum_over_processes_and_leave_with_a_dead_one(tmp_path, monkeypatch):
    env = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def writer(opened: int) -> int:
        run = subprocess.run(
            [sys.executable, "-c", _LIVE_WRITER, str(opened)], cwd=ROOT, env=env, capture_output=True, check=True
        )
        return int(run.stdout)

    first, _second = writer(3), writer(5)  # each keeps n - 1 open

    def live() -> float:
        scraped = {
            s.name: s.value for f in MultiProcessCollector(None, path=str(tmp_path)).collect() for s in f.samples
        }
        return scraped["leadflow_live_connections"]

    assert live() == 2 + 4
    from app.ops.metrics import mark_process_dead

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # as in gunicorn's master, which calls it
    mark_process_dead(first)
    assert live() == 4
