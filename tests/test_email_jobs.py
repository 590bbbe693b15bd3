"""Email through a real RQ worker on the real Redis, delivered to a real SMTP server: sent once, retried
when it fails (and visible meanwhile), and sent exactly once when the worker is killed mid-batch."""

import time

import sqlalchemy as sa
from rq import Queue
from rq.registry import FailedJobRegistry, StartedJobRegistry

from app.comms import notifications
from app.extensions import db
from app.jobs import tasks as jobs
from app.jobs.queue import enqueue
from app.models import EmailOutbox
from tests import factories
from tests.conftest import requires_redis
from tests.report_summary import record
from tests.rq_support import kill_group, redis_mode, run_worker, start_worker
from tests.smtp_support import Recorder, SmtpServer, free_port

pytestmark = requires_redis


def outbox() -> list:
    """The outbox rows as plain values, the read transaction ended at once: on SQLite an open one
    would hold off the worker's writes."""
    columns = [getattr(EmailOutbox, c) for c in ("id", "to_email", "status", "attempts", "last_error")]
    rows = db.session.execute(sa.select(*columns).order_by(EmailOutbox.to_email)).all()
    db.session.rollback()
    return rows


def test_emails_are_sent_by_a_real_worker_once_even_when_their_jobs_run_twice(app):
    admins = [factories.make_user("admin") for _ in range(2)]
    db.session.commit()
    with SmtpServer() as smtp, redis_mode(app) as (client, queue):
        notifications.notify_admins("cp_signed_up", company="Queued Ltd", link="/admin/partners")
        db.session.commit()
        assert [row.status for row in outbox()] == ["queued", "queued"]
        assert Queue(queue, connection=client).count == 2 and not smtp.recorder.messages  # nothing sent in-request

        run_worker(queue, **smtp.env())
        assert [row.status for row in outbox()] == ["sent", "sent"]
        assert sorted(m["To"] for m in smtp.recorder.messages) == sorted(a.email for a in admins)

        for row in outbox():  # the same jobs again, as a duplicate delivery or a manual re-run would
            enqueue(jobs.send_email, str(row.id))
        run_worker(queue, **smtp.env())
        assert len(smtp.recorder.messages) == 2
        assert sorted(smtp.recorder.message_ids()) == sorted(f"<{row.id}@leadflowpm.test>" for row in outbox())


def test_a_failing_email_is_visible_retried_by_rq_and_then_sent_once(app):
    admin = factories.make_user("admin")
    db.session.commit()
    with SmtpServer() as smtp, redis_mode(app) as (client, queue):
        notifications.notify_admins("cp_signed_up", company="Flaky Ltd")
        db.session.commit()
        dead = {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": free_port()}  # nobody listens
        run_worker(queue, **dead)

        [row] = outbox()
        assert row.status == "failed" and "ConnectionRefusedError" in row.last_error
        assert row.attempts == 4  # the first try and RQ's three retries
        failed = FailedJobRegistry(queue, connection=client)
        assert failed.count == 1 and not smtp.recorder.messages
        print(f"\nfailed email: status={row.status} attempts={row.attempts} failed registry={failed.count}")

        failed.requeue(failed.get_job_ids()[0])  # what an operator does once the mail server is back
        run_worker(queue, **smtp.env())
        [row] = outbox()
        assert (row.status, row.attempts, row.last_error) == ("sent", 5, None)
        assert [m["To"] for m in smtp.recorder.messages] == [admin.email]
        assert failed.count == 0


def test_worker_killed_mid_batch_every_email_is_sent_exactly_once(app):
    """SIGKILL the worker (and its work horse) while it is inside the SMTP conversation of the 40th of
    100 emails, then clean the started registry and restart: the SMTP server must count 100 messages
    and 100 distinct Message-IDs, and nothing may stay in the started registry."""
    for _ in range(100):
        factories.make_user("admin")
    db.session.commit()
    recorder = Recorder(hold_at=40)
    with SmtpServer(recorder) as smtp, redis_mode(app) as (client, queue):
        notifications.notify_admins("cp_signed_up", company="Batch Ltd")
        db.session.commit()
        assert len(outbox()) == 100

        worker = start_worker(queue, burst=True, **smtp.env())
        assert recorder.holding.wait(180), worker.communicate(timeout=5)[0].decode(errors="replace")
        kill_group(worker)  # mid-send: the claim is committed, the server has not accepted the message
        recorder.release.set()

        statuses = [row.status for row in outbox()]
        started = StartedJobRegistry(queue, connection=client)
        killed = {"sent": statuses.count("sent"), "sending": statuses.count("sending"), "started": started.count}
        assert killed == {"sent": 39, "sending": 1, "started": 1}, killed

        # The killed run's heartbeat would expire in a minute or two; clean as if it had (RQ re-queues
        # an abandoned job that has retries left).
        started.cleanup(timestamp=time.time() + 3600)
        assert started.count == 0
        recorder.hold_at = None
        log = run_worker(queue, **smtp.env())

        rows = outbox()
        ids = recorder.message_ids()
        counts = {
            "accepted": len(recorder.messages),
            "distinct_message_ids": len(set(ids)),
            "rows_sent": sum(row.status == "sent" for row in rows),
            "started_registry": started.count,
            "failed_registry": FailedJobRegistry(queue, connection=client).count,
            "sent_twice": len(ids) - len(set(ids)),
        }
        print(f"\nkilled worker mid-batch of 100 emails: {counts}")
        record(
            "jobs_under_faults",
            killed_workers=1,
            emails=counts["accepted"],
            sent_twice=counts["sent_twice"],
            stuck_in_started_registry=counts["started_registry"],
        )
        assert counts == {
            "accepted": 100,
            "distinct_message_ids": 100,
            "rows_sent": 100,
            "started_registry": 0,
            "failed_registry": 0,
            "sent_twice": 0,
        }, log
        assert set(ids) == {f"<{row.id}@leadflowpm.test>" for row in rows}
        assert sorted(row.attempts for row in rows)[-2:] == [1, 2]  # only the interrupted one was tried twice
        assert smtp.recorder.data_seen == 101  # 100 accepted, and the one the kill interrupted


def test_under_make_run_the_console_backend_prints_each_email(tmp_path):
    """The development app (make run) prints what the console mail backend sends, links included."""
    import io
    import logging

    from app import create_app
    from app.comms import mail

    dev = create_app("development", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'dev.db'}", MAIL_BACKEND="console")
    mail_log = logging.getLogger("app.comms.mail")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    mail_log.addHandler(handler)
    try:
        with dev.app_context():
            mail.deliver(
                mail.build_message("new@partner.test", "Join us", "Open http://localhost/join/abc", "<p>hi</p>")
            )
    finally:
        mail_log.removeHandler(handler)
    assert mail_log.getEffectiveLevel() <= logging.INFO
    assert "email to new@partner.test: Join us" in stream.getvalue() and "/join/abc" in stream.getvalue()
