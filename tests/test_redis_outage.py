"""Redis down: every page still answers, nothing is lost, and everything waits to be sent is sent once Redis
and the worker are back.

The outage is the production configuration with Redis unreachable: an app created with REDIS_URL (and the
login throttle's storage) pointing at a closed port. Recovery is the real Redis (REDIS_URL) with a real RQ
worker (`flask worker`, which sweeps stranded work at start) delivering to a real SMTP server.
"""

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
import websocket
from rq import Queue
from werkzeug.serving import make_server

from app import realtime
from app.extensions import db, redis_handle
from app.jobs import tasks as jobs
from app.models import Announcement, EmailOutbox, Notification
from app.models.base import utcnow
from tests import factories
from tests.access_table import ROLES, ROUTES
from tests.conftest import login, make_app, requires_redis
from tests.report_summary import record
from tests.rq_support import kill_group, redis_mode, run_worker, start_worker
from tests.smtp_support import SmtpServer
from tests.world import build_world

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: every connection is refused
PARTNERS = 50


@pytest.fixture
def outage():
    """An app booted with Redis unreachable (as production is when Redis dies); globals restored afterwards."""
    down = make_app(
        REDIS_URL=DEAD_REDIS,
        RATELIMIT_STORAGE_URI=DEAD_REDIS,
        LIVE_OUTAGE_POLL_SECONDS=1,
        PROPAGATE_EXCEPTIONS=False,  # a failure answers 500, as in production, instead of raising in the test
    )
    yield down
    make_app()  # the session app's state again: no Redis, memory rate limits


def rows(model, *columns):
    """Plain values, the read transaction ended at once (on SQLite an open one would hold off other writers)."""
    result = db.session.execute(sa.select(*columns) if columns else sa.select(model)).all()
    db.session.rollback()
    return result


def count(model, *where) -> int:
    value = db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))
    db.session.rollback()
    return value


def announce_to_partners(outage, n=PARTNERS):
    """The outage part shared by the tests below: an admin announces to `n` partners (with email) and a new
    partner signs up (an email to the admin). Returns (admin, partners, elapsed seconds of the announcement)."""
    admin = factories.make_user("admin")
    partners = [factories.make_partner(company=f"Outage {i:02d} Co") for i in range(n)]
    db.session.commit()
    client = login(outage.test_client(), admin)
    form = {"title": "Outage drill", "content": "Sent while Redis was down.", "target": "all", "send_email": "y"}
    started = time.monotonic()
    response = client.post("/admin/announcements/new", data=form)
    elapsed = time.monotonic() - started
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    signup = outage.test_client().post(
        "/auth/register",
        data={
            "name": "New Person",
            "company_name": "Joined During Outage",
            "email": "joiner@example.test",
            "password": "a-long-enough-password-1",
            "confirm": "a-long-enough-password-1",
        },
    )
    assert signup.status_code == 302, signup.get_data(as_text=True)[:500]
    return admin, partners, elapsed


def assert_outage_state(admin, partners):
    """Delivered in-app at once; every email waits in the outbox, queued and untried, for the sweeper."""
    [(sent_at,)] = rows(Announcement, Announcement.sent_at)
    assert sent_at is not None  # never "Sending…"
    notified = {user_id for (user_id,) in rows(Notification, Notification.user_id)}
    assert {p.user_id for p in partners} | {admin.id} <= notified
    outbox = rows(EmailOutbox, EmailOutbox.to_email, EmailOutbox.status, EmailOutbox.attempts)
    # 50 announcement emails + "new channel partner" to the admin + the joiner's address confirmation
    assert len(outbox) == len(partners) + 2
    assert {(status, attempts) for _to, status, attempts in outbox} == {("queued", 0)}


# --- during the outage ------------------------------------------------------------------------------------


def test_log_in_through_the_form_with_redis_down(outage):
    """Issue 15, item 2. Depends on the login throttle's fallback (app/accounts/throttle.py, the lead
    engineer's part): it answered 500 when the limiter's Redis storage was unreachable."""
    user = factories.make_partner(email="owner@example.test", password="right-password-123").user
    db.session.commit()
    client = outage.test_client()
    assert client.get("/auth/login").status_code == 200
    wrong = client.post("/auth/login", data={"email": user.email, "password": "not-it-at-all"})
    right = client.post("/auth/login", data={"email": user.email, "password": "right-password-123"})
    record("redis_outage", tried=2, held=int(wrong.status_code == 401) + int(right.status_code == 302))
    assert wrong.status_code == 401
    assert right.status_code == 302 and right.headers["Location"].startswith("/cp")
    assert client.get("/cp/").status_code == 200


def test_every_page_of_every_portal_answers_as_usual_with_redis_down(outage):
    """Every GET route of the permission table, for every role, answers what the table says (never a 5xx)."""
    world = build_world()
    got_5xx, differ, tried = [], [], 0
    clients = {}
    for role in ROLES:
        clients[role] = outage.test_client()
        if role != "anon":
            login(clients[role], world["users"][role])
    db.session.rollback()
    for key, (path_template, expected) in sorted(ROUTES.items()):
        method, endpoint = key.split(" ", 1)
        if method != "GET" or endpoint == "notifications.ws":
            continue
        path = path_template.format(**world["ids"])
        for role in ROLES:
            status = clients[role].get(path).status_code
            tried += 1
            if status >= 500:
                got_5xx.append(f"{role} {path}: {status}")
            elif status != expected[role]:
                differ.append(f"{role} {path}: {status}, table says {expected[role]}")
    record("redis_outage", tried=tried, held=tried - len(got_5xx) - len(differ), pages_5xx=len(got_5xx))
    print(f"\nRedis down: {tried} page loads (route x role), {len(got_5xx)} answered 5xx")
    assert not got_5xx, got_5xx
    assert not differ, differ


def test_an_announcement_is_delivered_at_once_and_its_emails_wait_in_the_outbox(outage):
    """Issue 15, item 3: it answered 303 and created nothing ("Sending…" forever)."""
    admin, partners, elapsed = announce_to_partners(outage)
    assert_outage_state(admin, partners)
    assert elapsed < 10, f"the announcement took {elapsed:.1f}s with Redis down"  # one refused connection, not 100

    reader = login(outage.test_client(), partners[0].user)
    badge = reader.get("/notifications/badge")
    assert badge.status_code == 200 and 'data-count="1"' in badge.get_data(as_text=True)
    assert reader.get("/notifications").status_code == 200
    read = reader.post("/notifications/read-all", headers={"HX-Request": "true"})  # publishes a nudge: Redis down
    assert read.status_code < 400
    assert 'data-count="0"' in reader.get("/notifications/badge").get_data(as_text=True)
    record("redis_outage", tried=5, held=5, announcement_ms=int(elapsed * 1000))


def test_the_live_nudge_never_raises_and_this_process_still_hears_it(outage):
    with outage.app_context():
        inbox = realtime.hub.listen("someone")
        try:
            realtime.publish(["someone"])  # Redis refuses: delivered within the process
            realtime.publish(["someone"])  # and now without even trying Redis (it failed a moment ago)
            assert redis_handle.is_down()
        finally:
            realtime.hub.forget("someone", inbox)
    assert inbox.qsize() == 2
    record("redis_outage", tried=1, held=1)


def test_the_live_badge_falls_back_to_polling_while_redis_is_down(outage):
    """The socket opens, shows the count, and re-reads it on a timer: a notification made by another process
    (whose nudge cannot cross a dead Redis) still reaches the badge."""
    cp = factories.make_partner()
    db.session.commit()
    http = make_server("127.0.0.1", 0, outage, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{http.server_port}"
    try:
        cookie = f"session={login(outage.test_client(), cp.user).get_cookie('session').value}"
        sock = websocket.create_connection(
            f"ws://{host}/ws/notifications", header=[f"Cookie: {cookie}"], origin=f"http://{host}", timeout=10
        )
        assert 'data-count="0"' in sock.recv()
        db.session.add(
            Notification(user_id=cp.user_id, type="system", event="bank_details_changed", title="T", message="M")
        )
        db.session.commit()  # written as a worker would, no nudge reaches this process
        started = time.monotonic()
        while 'data-count="1"' not in sock.recv():
            assert time.monotonic() - started < 10
        waited = time.monotonic() - started
        sock.close()
    finally:
        http.shutdown()
    assert not realtime.bridge.listening()
    record("redis_outage", tried=1, held=1)
    print(f"\nRedis down: the badge showed the new notification after {waited:.1f}s (outage polling)")


# --- recovery ------------------------------------------------------------------------------------------------


def test_requeue_stranded_without_redis_sends_what_waited(app, mail_outbox):
    """`flask requeue-stranded` with no Redis configured runs the jobs here: an email left queued is sent,
    an undelivered announcement delivered; rows younger than the grace period are left to their own jobs."""
    admin = factories.make_user("admin")
    cp = factories.make_partner()
    old = utcnow() - timedelta(minutes=10)
    stale = EmailOutbox(to_email=admin.email, template="notification", subject="Old", context={}, status="queued")
    fresh = EmailOutbox(to_email=admin.email, template="notification", subject="New", context={}, status="queued")
    lost = Announcement(title="Lost", content="Its job was lost.", target_type="all", send_email=False)
    db.session.add_all([stale, fresh, lost])
    db.session.flush()
    stale.created_at = stale.updated_at = lost.created_at = old
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["requeue-stranded"])
    assert result.exit_code == 0, result.output
    assert "1 announcements, 1 emails, 0 reports, 0 imports, 0 sms, 0 webhooks requeued." in result.output
    statuses = dict(rows(EmailOutbox, EmailOutbox.subject, EmailOutbox.status))
    assert statuses == {"Old": "sent", "New": "queued"}
    assert [m["Subject"] for m in mail_outbox] == ["Old"]
    assert count(Notification, Notification.user_id == cp.user_id) == 1
    assert count(Announcement, Announcement.sent_at.is_(None)) == 0
    record("redis_outage", tried=2, held=2)


@requires_redis
def test_after_the_outage_the_sweeper_and_a_real_worker_send_every_email_exactly_once(app, outage):
    admin, partners, _elapsed = announce_to_partners(outage)
    assert_outage_state(admin, partners)
    with SmtpServer() as smtp, redis_mode(app) as (client, queue):  # Redis is back
        swept = jobs.requeue_stranded(grace_seconds=0)
        assert swept == {
            "announcements": 0,
            "emails": PARTNERS + 2,
            "reports": 0,
            "imports": 0,
            "sms": 0,
            "webhooks": 0,
        }
        assert jobs.requeue_stranded(grace_seconds=0)["emails"] == 0  # a second sweep adds nothing: all in RQ
        assert Queue(queue, connection=client).count == PARTNERS + 2
        run_worker(queue, STRANDED_GRACE_SECONDS=0, **smtp.env())
        outbox = rows(EmailOutbox, EmailOutbox.id, EmailOutbox.to_email, EmailOutbox.status, EmailOutbox.attempts)
        ids = smtp.recorder.message_ids()
    expected = sorted([p.user.email for p in partners] + [admin.email, "joiner@example.test"])
    sent_once = sorted(m["To"] for m in smtp.recorder.messages) == expected and len(set(ids)) == len(ids)
    record("redis_outage", tried=1, held=int(sent_once), emails_recovered=len(ids))
    assert {(status, attempts) for _id, _to, status, attempts in outbox} == {("sent", 1)}
    assert sorted(m["To"] for m in smtp.recorder.messages) == expected
    assert sorted(ids) == sorted(f"<{row_id}@leadflowpm.test>" for row_id, *_rest in outbox)


@requires_redis
def test_a_worker_starting_after_the_outage_delivers_everything_on_its_own(app, outage):
    """No manual step: `flask worker` sweeps at start. An announcement whose job Redis lost (restarted without
    persistence) is delivered, and its emails and the ones that waited are sent, each once."""
    admin, partners, _elapsed = announce_to_partners(outage, n=5)
    lost = Announcement(title="Lost job", content="Redis forgot me.", target_type="all", send_email=True)
    db.session.add(lost)
    db.session.flush()
    long_ago = utcnow() - timedelta(minutes=10)  # older than the default grace period (5 minutes)
    lost.created_at = long_ago
    db.session.execute(sa.update(EmailOutbox).values(created_at=long_ago, updated_at=long_ago))
    db.session.commit()
    with SmtpServer() as smtp, redis_mode(app) as (_client, queue):
        log = run_worker(queue, **smtp.env())
        outbox = rows(EmailOutbox, EmailOutbox.to_email, EmailOutbox.status)
    assert (
        "Requeued stranded work: {'announcements': 1, 'emails': 7, 'reports': 0, 'imports': 0, 'sms': 0, 'webhooks': 0}"
        in log
    ), log
    assert count(Announcement, Announcement.sent_at.is_(None)) == 0
    assert count(Notification, Notification.reference_id == lost.id) == len(partners)
    assert {status for _to, status in outbox} == {"sent"} and len(outbox) == 2 * len(partners) + 2
    assert sorted(m["To"] for m in smtp.recorder.messages) == sorted(to for to, _status in outbox)
    assert len(set(smtp.recorder.message_ids())) == len(outbox)
    record("redis_outage", tried=1, held=1, emails_recovered=len(outbox))


@requires_redis
def test_a_running_worker_sweeps_again_every_interval(app):
    """A row stranded while the worker already runs (its job lost) is found by the worker's periodic sweep."""
    admin = factories.make_user("admin")
    db.session.commit()
    with SmtpServer() as smtp, redis_mode(app) as (_client, queue):
        worker = start_worker(queue, burst=False, SWEEP_INTERVAL_SECONDS=1, STRANDED_GRACE_SECONDS=0, **smtp.env())
        try:
            started = worker.stdout.readline().decode()
            assert "Requeued stranded work" in started, started  # its start-up sweep is done (nothing to do)
            db.session.add(
                EmailOutbox(to_email=admin.email, template="notification", subject="Lost", context={}, status="queued")
            )
            db.session.commit()  # no job: as if Redis had lost it
            deadline = time.monotonic() + 60
            while rows(EmailOutbox, EmailOutbox.status) != [("sent",)]:
                assert time.monotonic() < deadline, "the periodic sweep never sent the stranded email"
                time.sleep(0.5)
        finally:
            kill_group(worker)
    assert [m["Subject"] for m in smtp.recorder.messages] == ["Lost"]
    record("redis_outage", tried=1, held=1)
