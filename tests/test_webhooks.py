"""Outbound webhooks (issue 19, item 6): events emitted by the real operations, posted to a local receiver that
verifies each signature with the documented five-line recipe; retries with backoff then `failed`, redeliver; the
address check at save and at delivery (private, loopback, link-local, rebinding), the connection pinned to the
checked address (HTTP and HTTPS); the pages; and a real RQ worker SIGKILLed mid-POST: one delivery per event."""

import re
import socket
import ssl
import time
import uuid
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from rq.registry import FailedJobRegistry, StartedJobRegistry

from app.comms import webhook_http, webhooks
from app.extensions import db
from app.jobs import webhooks as jobs
from app.jobs.outbox import OutboxBusy
from app.leads import pipeline, review
from app.models import AuditEvent, IdempotencyKey, Notification, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.models.base import utcnow
from app.models.webhooks import WEBHOOK_EVENTS
from tests import factories
from tests.conftest import requires_redis
from tests.fee_support import won
from tests.report_summary import record
from tests.rq_support import kill_group, redis_mode, run_worker, start_worker
from tests.webhook_support import Receiver, free_port, receiving, self_signed, verify

ALL_EVENTS = sorted(WEBHOOK_EVENTS)
HX = {"HX-Request": "true"}
REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture(autouse=True)
def request_context(app):
    with app.test_request_context():
        yield


@pytest.fixture
def allow_private(app, monkeypatch):
    """The tests' receivers listen on 127.0.0.1: allowed explicitly, as the setting allows."""
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)


@pytest.fixture
def quick_retries(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_SECONDS", [0.3, 0.6])


@pytest.fixture
def people():
    factories.make_fee_config("percentage", "10")
    admin = factories.make_user("admin")
    cp = factories.make_partner(company="Hooked Co")
    db.session.commit()
    return SimpleNamespace(admin=admin, cp=cp, owner=cp.user)


@pytest.fixture
def dns(monkeypatch):
    """A resolver with names of our own (the rest resolve as usual); `dns.lookups` lists the names asked for."""
    answers: dict[str, str] = {}
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            lookups.append(host)
            address = answers[host]
            if ":" in address:
                return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return SimpleNamespace(answers=answers, lookups=lookups)


def make_endpoint(user, url: str, events=ALL_EVENTS, active: bool = True) -> WebhookEndpoint:
    endpoint = webhooks.create_endpoint(user, url, "", events, active)
    db.session.commit()
    return endpoint


def local(port: int, path: str = "/hook") -> str:
    return f"http://127.0.0.1:{port}{path}"


def deliveries(endpoint=None) -> list[WebhookDelivery]:
    db.session.expire_all()
    stmt = sa.select(WebhookDelivery).order_by(WebhookDelivery.created_at)
    if endpoint is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint.id)
    rows = list(db.session.scalars(stmt))
    db.session.rollback()  # end the read: on SQLite an open one would hold off a worker's writes
    return rows


def attempts_of(delivery) -> list[WebhookAttempt]:
    stmt = sa.select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
    rows = list(db.session.scalars(stmt.order_by(WebhookAttempt.started_at)))
    db.session.rollback()
    return rows


def wait_until(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- events from the real operations, signed and verified by the documented recipe ---------------------------


def test_an_allocated_lead_is_posted_once_signed_and_the_documented_recipe_verifies_it(people, allow_private):
    with receiving() as (receiver, port):
        endpoint = make_endpoint(people.owner, local(port, "/hooks/leadflow?source=lf"))
        receiver.secret = endpoint.secret
        lead = factories.make_lead(title="Solar roof", contact_email="ada@example.com", first_name="Ada")
        pipeline.allocate(lead, people.cp, people.admin)
        assert receiver.calls == []  # nothing leaves before the commit
        db.session.commit()
        [call] = receiver.calls

    assert call.verified and call.answered == 200
    assert (call.event, call.path) == ("lead.assigned", "/hooks/leadflow?source=lf")
    body = call.json
    assert body["type"] == "lead.assigned" and body["id"] == call.delivery
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", body["created_at"])
    sent = body["data"]["lead"]
    assert (sent["id"], sent["title"], sent["stage"]) == (str(lead.id), "Solar roof", "new")
    assert sent["contact"]["email"] == "ada@example.com" and sent["allocated_to"] == str(people.cp.id)
    assert body["data"]["url"].endswith(f"/cp/leads/{lead.id}")
    assert "secret" not in call.body.decode().lower()

    [row] = deliveries()
    assert (row.status, row.attempts, row.response_code, str(row.event_id)) == ("delivered", 1, 200, call.delivery)
    [attempt] = attempts_of(row)
    assert (attempt.response_code, attempt.error) == (200, None) and attempt.duration_ms >= 0

    # The recipe refuses what it must: another secret, a changed body, a stale timestamp.
    assert not verify("whsec_someone-else", call.body, call.signature)
    assert not verify(endpoint.secret, call.body.replace(b"Solar", b"Polar"), call.signature)
    stale = webhook_http.signature(endpoint.secret, call.body, int(time.time()) - 600)
    assert not verify(endpoint.secret, call.body, stale)
    assert verify(endpoint.secret, call.body, webhook_http.signature(endpoint.secret, call.body, int(time.time())))


def test_each_operation_emits_its_event_to_the_partner_it_concerns(people, allow_private):
    source = factories.make_partner(company="Source Co")
    db.session.commit()
    with receiving() as (receiver, port):
        works = make_endpoint(people.owner, local(port, "/works"))
        submits = make_endpoint(source.user, local(port, "/submits"), events=["lead.approved", "lead.rejected"])
        off = make_endpoint(people.owner, local(port, "/off"), active=False)
        receiver.secrets = {"/works": works.secret, "/submits": submits.secret, "/off": off.secret}

        lead = factories.make_lead(originator=source, intake_status="pending_review", title="Referred roof")
        review.approve(lead, people.admin)
        db.session.commit()
        pipeline.allocate(lead, people.cp, people.admin)
        db.session.commit()
        pipeline.change_stage(lead, "contacted", people.owner, lead.version)
        db.session.commit()
        refused = factories.make_lead(originator=source, intake_status="pending_review", title="Thin lead")
        review.reject(refused, people.admin, "incomplete")
        db.session.commit()
        tx = won(people.cp, people.admin, commission="1000", value="10000")  # pays the client, then settles to cp
        db.session.commit()
        unsaid = factories.make_lead(title="Rolled back")
        pipeline.allocate(unsaid, people.cp, people.admin)
        db.session.rollback()  # the operation did not happen: nor did its event

        calls = list(receiver.calls)
    by_path = {path: [(c.event, c.json["data"]) for c in calls if c.path == path] for path in ("/works", "/submits")}
    assert [event for event, _ in by_path["/submits"]] == ["lead.approved", "lead.rejected"]
    assert [event for event, _ in by_path["/works"]] == ["lead.assigned", "lead.stage_changed", "commission.settled"]
    assert all(c.verified and c.answered == 200 for c in calls) and len(calls) == 5
    approved, rejected = (data for _, data in by_path["/submits"])
    assert approved["lead"]["intake_status"] == "approved" and approved["lead"]["id"] == str(lead.id)
    assert rejected["lead"]["rejection_reason"].startswith("Contact details incomplete")
    (_, assigned), (_, moved), (_, settled) = by_path["/works"]
    assert assigned["lead"]["allocated_to"] == str(people.cp.id)
    assert (moved["lead"]["stage"], moved["previous_stage"]) == ("contacted", "new")
    assert settled["commission"]["id"] == str(tx.id)
    assert (settled["commission"]["status"], settled["commission"]["net_commission"]) == ("paid", "900.00")
    assert deliveries(off) == [] and len({c.delivery for c in calls}) == 5


# --- failures: backoff, then failed; redeliver; redirects are not followed -----------------------------------


def test_a_receiver_that_is_down_is_retried_with_backoff_then_failed_and_redeliver_sends_it(
    people, allow_private, quick_retries, login_as
):
    port = free_port()  # nobody listens there yet
    endpoint = make_endpoint(people.owner, local(port))
    lead = factories.make_lead(title="Nobody home")
    pipeline.allocate(lead, people.cp, people.admin)
    db.session.commit()  # the first attempt runs now (no Redis: in-process) and is refused

    [row] = deliveries()
    assert (row.status, row.attempts) == ("pending", 1) and "ConnectionRefusedError" in row.last_error
    assert jobs.requeue_deliveries(0) == 0  # not due yet: the sweeper leaves it
    for expected_status in ("pending", "failed"):
        wait_until(lambda: utcnow() >= deliveries()[0].next_attempt_at, 5)
        assert jobs.requeue_deliveries(0) == 1
        [row] = deliveries()
        assert row.status == expected_status
    assert (row.attempts, row.next_attempt_at, row.response_code) == (3, None, None)
    tries = attempts_of(row)
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in zip(tries, tries[1:], strict=False)]
    assert len(tries) == 3 and gaps[0] >= 0.3 and gaps[1] >= 0.6, gaps  # the backoff, growing
    assert all("ConnectionRefusedError" in t.error and t.response_code is None for t in tries)
    assert jobs.requeue_deliveries(0) == 0  # failed stays failed until someone redelivers it

    with receiving(port=port) as (receiver, _):
        receiver.secret = endpoint.secret
        client = login_as(people.owner)
        response = client.post(f"/cp/integrations/webhooks/{endpoint.id}/deliveries/{row.id}/redeliver", headers=HX)
        assert response.status_code == 200 and "Sending lead.assigned again." in response.text
        [call] = receiver.calls
    assert call.verified and call.delivery == str(row.event_id)  # the same event, so a receiver can drop a repeat
    [row] = deliveries()
    assert (row.status, row.attempts, row.response_code) == ("delivered", 1, 200)
    assert len(attempts_of(row)) == 4  # the log keeps the failed attempts
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "webhook.redelivered")) == 1


def _fail_for_good(count: int) -> None:
    """Drive every pending delivery through its quick retries until each has failed for good."""
    for _ in range(count):
        wait_until(lambda: all(utcnow() >= r.next_attempt_at for r in deliveries() if r.status == "pending"), 5)
        jobs.requeue_deliveries(0)
    assert {r.status for r in deliveries() if not r.is_test} == {"failed"}


def test_a_delivery_that_fails_for_good_tells_owners_and_managers_once_a_day(
    people, allow_private, quick_retries, mail_outbox, login_as
):
    manager, viewer = factories.make_member(people.cp, "manager"), factories.make_member(people.cp, "viewer")
    db.session.commit()
    told = sa.select(Notification).where(Notification.event == "webhook_failing").order_by(Notification.created_at)
    with receiving(Receiver(status=503)) as (_, port):
        endpoint = make_endpoint(people.owner, local(port))
        webhooks.send_test(endpoint, people.owner)  # a failed test ping is answered on the page: no notice
        for number in (1, 2):
            webhooks.emit(people.cp, "lead.assigned", {"lead": {"id": str(number)}})
        db.session.commit()
        _fail_for_good(2)
        notices = list(db.session.scalars(told))
        assert sorted(n.user_id for n in notices) == sorted([people.owner.id, manager.id])  # not the viewer
        assert notices[0].link == f"/cp/integrations/webhooks/{endpoint.id}"
        assert (
            "lead.assigned delivery to" in notices[0].message
            and "after 3 attempts (The receiver answered 503)" in notices[0].message
        )
        assert sorted(m["To"] for m in mail_outbox) == sorted([people.owner.email, manager.email])
        assert viewer.id not in {n.user_id for n in notices}

        for notice in notices:  # a day later the endpoint still fails: they are told again, once
            notice.created_at -= timedelta(hours=25)
        db.session.commit()
        webhooks.emit(people.cp, "lead.assigned", {"lead": {"id": "3"}})
        db.session.commit()
        _fail_for_good(2)
    assert len(list(db.session.scalars(told))) == 4
    page = login_as(people.owner).get(notices[0].link)
    assert page.status_code == 200 and "failed" in page.text


def test_an_error_answer_is_retried_and_a_redirect_is_not_followed(people, allow_private, quick_retries):
    with receiving() as (elsewhere, elsewhere_port):
        moved = Receiver(status=302, location=local(elsewhere_port, "/stolen"))
        with receiving(moved) as (receiver, port), receiving(Receiver(status=500)) as (broken, broken_port):
            redirecting = make_endpoint(people.owner, local(port))
            failing = make_endpoint(people.owner, local(broken_port))
            webhooks.send_test(redirecting, people.owner)
            webhooks.emit(people.cp, "lead.assigned", {"lead": {"id": "x"}})
            db.session.commit()
            assert len(receiver.calls) == 2 and len(broken.calls) == 1
    assert elsewhere.calls == []  # the Location was never followed
    ping, event_there = deliveries(redirecting)
    assert (ping.event, ping.status, ping.response_code) == ("ping", "failed", 302)  # a test is tried once
    assert "redirects are not followed" in ping.last_error
    assert (event_there.status, event_there.response_code) == ("pending", 302)
    [event_broken] = deliveries(failing)
    assert (event_broken.status, event_broken.response_code, event_broken.attempts) == ("pending", 500, 1)
    assert event_broken.last_error == "The receiver answered 500"


# --- the address check: at save, at delivery, and the connection pinned to what was checked -------------------

PRIVATE_URLS = [
    "https://127.0.0.1/hook",
    "https://10.1.2.3/hook",
    "https://192.168.1.20/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://[fe80::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
    "https://100.64.0.1/hook",
    "https://localhost/hook",  # a name resolving to loopback
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_a_url_resolving_to_a_private_address_is_refused_when_saved(people, url):
    with pytest.raises(webhooks.WebhookError) as refused:
        webhooks.create_endpoint(people.owner, url, "", ["lead.assigned"])
    assert refused.value.field == "url" and "public addresses only" in str(refused.value)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0
    record("webhooks", private_urls_refused_at_save=1)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://crm.example.com/hook", "Use an https:// URL."),
        ("https://admin:pw@crm.example.com/hook", "Leave the user name and password out"),
        ("https:///hook", "needs a host name"),
        ("https://crm.example.com:99999/hook", "not a valid URL"),
    ],
)
def test_a_url_must_be_https_with_a_host_and_no_credentials(people, url, why):
    with pytest.raises(webhooks.WebhookError, match=re.escape(why)):
        webhooks.create_endpoint(people.owner, url, "", ["lead.assigned"])


def test_loopback_is_accepted_only_when_the_setting_allows_it(people, app, monkeypatch):
    with pytest.raises(webhooks.WebhookError):
        webhooks.create_endpoint(people.owner, "http://127.0.0.1:8080/hook", "", ["lead.assigned"])
    db.session.rollback()
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)
    assert make_endpoint(people.owner, "http://127.0.0.1:8080/hook").url == "http://127.0.0.1:8080/hook"


@pytest.mark.parametrize("inside", ["127.0.0.1", "10.0.0.5", "169.254.169.254", "::1"])
def test_a_name_that_rebinds_to_a_private_address_after_saving_is_refused_at_delivery(people, dns, inside):
    dns.answers["hooks.partner.example"] = "93.184.215.14"  # public when saved
    with receiving() as (receiver, port):
        endpoint = make_endpoint(people.owner, f"https://hooks.partner.example:{port}/hook")
        dns.answers["hooks.partner.example"] = inside  # then the name's answer changes
        webhooks.send_test(endpoint, people.owner)
        webhooks.emit(people.cp, "lead.assigned", {"lead": {"id": "x"}})
        db.session.commit()
    assert receiver.calls == []  # never connected
    for row in deliveries():
        assert row.response_code is None and row.last_error.startswith("Refused: hooks.partner.example resolves to")
    record("webhooks", private_addresses_refused_at_delivery=1)


def test_an_endpoint_saved_while_allowed_is_refused_once_the_setting_is_off(people, app, monkeypatch):
    with receiving() as (receiver, port):
        monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)
        endpoint = make_endpoint(people.owner, f"https://127.0.0.1:{port}/hook")
        monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
        webhooks.send_test(endpoint, people.owner)
        db.session.commit()
    assert receiver.calls == []
    [row] = deliveries()
    assert row.status == "failed" and "public addresses only" in row.last_error


def test_the_post_connects_to_the_address_that_was_checked(people, allow_private, dns):
    """The name is resolved once per attempt, for the check; the connection goes to that address (no second
    lookup a rebinding DNS could answer differently) and the name travels in the Host header."""
    dns.answers["hooks.partner.example"] = "127.0.0.1"
    with receiving() as (receiver, port):
        endpoint = make_endpoint(people.owner, f"http://hooks.partner.example:{port}/hook")
        receiver.secret = endpoint.secret
        dns.lookups.clear()
        webhooks.send_test(endpoint, people.owner)
        db.session.commit()
        [call] = receiver.calls
    assert dns.lookups == ["hooks.partner.example"]
    assert call.host == f"hooks.partner.example:{port}" and call.verified and call.event == "ping"


def test_https_is_spoken_to_the_name_at_the_checked_address(people, allow_private, dns, monkeypatch, tmp_path):
    """TLS goes to the pinned address with the URL's name for SNI and the certificate check: a certificate for
    another name is refused before anything is sent."""
    cert, key = self_signed("hooks.partner.example", tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    monkeypatch.setattr(webhook_http, "tls_context", lambda: ssl.create_default_context(cafile=cert))
    dns.answers.update({"hooks.partner.example": "127.0.0.1", "other.partner.example": "127.0.0.1"})
    with receiving(tls=tls) as (receiver, port):
        good = make_endpoint(people.owner, f"https://hooks.partner.example:{port}/hook")
        wrong = make_endpoint(people.owner, f"https://other.partner.example:{port}/hook")
        receiver.secret = good.secret
        webhooks.send_test(good, people.owner)
        webhooks.send_test(wrong, people.owner)
        db.session.commit()
        [call] = receiver.calls
    assert call.verified and call.host == f"hooks.partner.example:{port}"
    [refused] = deliveries(wrong)
    assert refused.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in refused.last_error


# --- the job: safe to run twice; the sweeper takes over what a dead worker left ------------------------------


def _row(endpoint, **values) -> WebhookDelivery:
    event_id = uuid.uuid4()
    payload = {"id": str(event_id), "type": "lead.assigned", "created_at": "2026-01-15T09:00:00Z", "data": {}}
    row = WebhookDelivery(endpoint_id=endpoint.id, event="lead.assigned", event_id=event_id, payload=payload, **values)
    db.session.add(row)
    db.session.commit()
    return row


def test_the_job_run_twice_posts_once_and_the_sweeper_takes_over_a_dead_workers_claim(people, allow_private):
    with receiving() as (receiver, port):
        endpoint = make_endpoint(people.owner, local(port))
        receiver.secret = endpoint.secret
        long_ago = utcnow() - timedelta(minutes=10)
        orphan = _row(endpoint, status="sending", attempts=1, claimed_at=long_ago, claimed_by="rq-job-that-died")
        busy = _row(endpoint, status="sending", attempts=1, claimed_at=utcnow(), claimed_by="rq-job-at-work")
        waiting = _row(endpoint, status="pending", next_attempt_at=long_ago)
        fresh = _row(endpoint, status="pending", next_attempt_at=utcnow() + timedelta(hours=1))

        assert jobs.requeue_deliveries(300) == 2  # the dead claim and the overdue one; not the busy or the fresh
        assert sorted(c.delivery for c in receiver.calls) == sorted(str(r.event_id) for r in (orphan, waiting))
        assert jobs.deliver(str(orphan.id)) == "skipped"  # run again: delivered already, not posted again
        assert jobs.deliver(str(fresh.id)) == "skipped"  # not due
        with pytest.raises(OutboxBusy):
            jobs.deliver(str(busy.id))  # someone else is posting it: RQ retries this job later
        assert len(receiver.calls) == 2 and all(c.verified for c in receiver.calls)
    states = {row.id: (row.status, row.attempts) for row in deliveries()}
    assert states[orphan.id] == ("delivered", 2) and states[waiting.id] == ("delivered", 1)
    assert states[busy.id] == ("sending", 1) and states[fresh.id] == ("pending", 0)


def test_a_delivery_for_an_endpoint_turned_off_is_not_posted(people, allow_private):
    with receiving() as (receiver, port):
        endpoint = make_endpoint(people.owner, local(port))
        row = _row(endpoint, status="pending", next_attempt_at=utcnow())
        endpoint.is_active = False
        db.session.commit()
        assert jobs.deliver(str(row.id)) == "failed"
    assert receiver.calls == []
    [row] = deliveries()
    assert row.status == "failed" and row.last_error == "The webhook was turned off before this was sent."


# --- the pages ----------------------------------------------------------------------------------------------


def test_an_owner_adds_a_webhook_sees_and_rotates_its_secret_tests_it_and_deletes_it(people, allow_private, login_as):
    client = login_as(people.owner)
    with receiving() as (receiver, port):
        form = {"url": local(port, "/crm"), "description": "Our CRM", "events": ["lead.assigned"], "is_active": "y"}
        response = client.post("/cp/integrations/webhooks/new", data=form)
        assert response.status_code == 303
        [endpoint] = db.session.scalars(sa.select(WebhookEndpoint)).all()
        assert (endpoint.description, endpoint.events, endpoint.is_active) == ("Our CRM", ["lead.assigned"], True)
        assert response.location.endswith(f"/cp/integrations/webhooks/{endpoint.id}")
        base = f"/cp/integrations/webhooks/{endpoint.id}"

        page = client.get(base).text
        assert "Show the secret" in page and endpoint.secret not in page  # shown only when asked
        assert "def verify(secret: str, body: bytes, header: str, tolerance: int = 300) -&gt; bool:" in page
        shown = client.post(f"{base}/secret", headers=HX)
        assert shown.status_code == 200 and endpoint.secret in shown.text
        assert shown.headers["Cache-Control"] == "no-store"
        old = endpoint.secret
        rotated = client.post(f"{base}/rotate", headers=HX)
        db.session.expire_all()
        assert endpoint.secret != old and endpoint.secret in rotated.text and old not in rotated.text
        receiver.secret = endpoint.secret

        assert client.post(f"{base}/test").status_code == 302
        [call] = receiver.calls
        assert call.event == "ping" and call.verified  # signed with the new secret
        log = client.get(f"{base}/deliveries", headers=HX).text
        assert "ping" in log and "Delivered" in log and "Redeliver" in log
        assert client.get(f"{base}/deliveries?status=failed", headers=HX).text.count('id="delivery-') == 0

        refused = client.post(base, data={**form, "url": "https://me:pw@crm.example.com/x"}, headers=HX)
        assert (
            refused.status_code == 422 and 'id="url-error"' in refused.text and "user name and password" in refused.text
        )
        saved = client.post(base, data={"url": form["url"], "events": ALL_EVENTS}, headers=HX)
        assert saved.status_code == 200 and "Webhook saved." in saved.text
        db.session.expire_all()
        assert endpoint.events == ALL_EVENTS and endpoint.is_active is False

        assert client.post(f"{base}/delete", headers=HX).status_code == 422  # the box is not ticked
        gone = client.post(f"{base}/delete", data={"confirm": "y"}, headers=HX)
        assert gone.status_code == 204 and gone.headers["HX-Redirect"].endswith("/cp/integrations/webhooks")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 0
    actions = set(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("webhook.%"))))
    assert actions == {
        "webhook.created", "webhook.secret_revealed", "webhook.secret_rotated", "webhook.updated", "webhook.deleted",
    }  # fmt: skip


def test_a_viewer_reads_the_log_but_never_sees_the_secret(people, login_as):
    viewer = factories.make_member(people.cp, "viewer")
    db.session.commit()
    endpoint = webhooks.create_endpoint(people.owner, "https://93.184.215.14/hook", "", ["lead.assigned"])
    db.session.commit()
    client = login_as(viewer)
    page = client.get(f"/cp/integrations/webhooks/{endpoint.id}")
    assert page.status_code == 200 and "https://93.184.215.14/hook" in page.text
    assert "Show the secret" not in page.text and endpoint.secret not in page.text and "Redeliver" not in page.text
    assert client.post(f"/cp/integrations/webhooks/{endpoint.id}/secret").status_code == 403
    listing = client.get("/cp/integrations/webhooks").text
    assert "Add an endpoint" not in listing and "Owners and managers add and change webhooks." in listing


def test_a_shown_secret_is_never_kept_as_a_replay_and_its_twin_gets_the_page(people, login_as):
    endpoint = webhooks.create_endpoint(people.owner, "https://93.184.215.14/hook", "", ["lead.assigned"])
    db.session.commit()
    client = login_as(people.owner)
    base = f"/cp/integrations/webhooks/{endpoint.id}"
    key = {"idempotency_key": "reveal-secret-0123456789"}
    shown = client.post(f"{base}/secret", data=key, headers=HX)
    assert shown.status_code == 200 and endpoint.secret in shown.text
    twin = client.post(f"{base}/secret", data=key, headers=HX)
    assert twin.headers.get("Idempotent-Replayed") == "true" and endpoint.secret not in twin.text
    stored = db.session.scalars(sa.select(IdempotencyKey.response)).all()
    assert stored and all(endpoint.secret not in str(answer) for answer in stored)


def test_the_readme_shows_the_recipe_the_receiver_runs():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert webhooks.VERIFY_RECIPE in readme, "README.md must show app.comms.webhooks.VERIFY_RECIPE as it stands"


# --- a real worker killed mid-POST: one delivery per event --------------------------------------------------


@requires_redis
def test_worker_killed_mid_post_every_event_is_delivered_exactly_once(app, people, allow_private):
    """SIGKILL the worker (and its work horse) while the receiver holds the 12th of 30 POSTs unanswered, clean
    RQ's started registry as its heartbeat's expiry would, restart: the receiver takes each of the 30 events
    exactly once (by event id), and saw 31 POSTs in all, the interrupted one included."""
    with receiving(Receiver(hold_at=12)) as (receiver, port), redis_mode(app) as (client, queue):
        endpoint = make_endpoint(people.owner, local(port))
        receiver.secret = endpoint.secret
        for number in range(30):
            lead = factories.make_lead(title=f"Batch lead {number}")
            pipeline.allocate(lead, people.cp, people.admin)
        db.session.commit()
        assert receiver.calls == [] and len(deliveries()) == 30  # queued in Redis, nothing posted in-process

        env = {"WEBHOOK_ALLOW_PRIVATE": "1"}
        worker = start_worker(queue, burst=True, **env)
        assert receiver.holding.wait(180), worker.communicate(timeout=5)[0].decode(errors="replace")
        assert len(kill_group(worker)) == 1  # mid-POST: the claim is committed, no answer yet
        receiver.release.set()

        statuses = [row.status for row in deliveries()]
        started = StartedJobRegistry(queue, connection=client)
        killed = {
            "delivered": statuses.count("delivered"),
            "sending": statuses.count("sending"),
            "started": started.count,
        }
        assert killed == {"delivered": 11, "sending": 1, "started": 1}, killed

        started.cleanup(timestamp=time.time() + 3600)  # RQ re-queues the abandoned job (it has retries left)
        receiver.hold_at = None
        log = run_worker(queue, **env)

        rows = deliveries()
        taken = [c.delivery for c in receiver.accepted]
        counts = {
            "posts_received": len(receiver.calls),
            "events_accepted": len(taken),
            "distinct_events_accepted": len(set(taken)),
            "accepted_twice": len(taken) - len(set(taken)),
            "rows_delivered": sum(row.status == "delivered" for row in rows),
            "started_registry": started.count,
            "failed_registry": FailedJobRegistry(queue, connection=client).count,
        }
        print(f"\nkilled worker mid-POST in a batch of 30 webhook events: {counts}")
        record("webhooks", killed_workers=1, events=counts["events_accepted"], delivered_twice=counts["accepted_twice"])
        assert counts == {
            "posts_received": 31,
            "events_accepted": 30,
            "distinct_events_accepted": 30,
            "accepted_twice": 0,
            "rows_delivered": 30,
            "started_registry": 0,
            "failed_registry": 0,
        }, log
        assert set(taken) == {str(row.event_id) for row in rows}
        assert all(c.verified for c in receiver.calls)
        assert sorted(row.attempts for row in rows)[-2:] == [1, 2]  # only the interrupted one was tried twice
