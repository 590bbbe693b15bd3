"""RQ job functions: they take ids, load, act, and are safe to run twice."""

import logging
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.accounts import recovery
from app.comms import announcements, mail
from app.extensions import db
from app.jobs import outbox
from app.jobs import sms as sms_jobs
from app.jobs.queue import RETRY_INTERVALS, RUN, WAIT, enqueue
from app.jobs.webhooks import requeue_deliveries
from app.leads import confirmation
from app.models import Announcement, EmailOutbox, LeadImport, ReportExport, User
from app.models.base import utcnow
from app.partners import members

log = logging.getLogger(__name__)


def send_email(outbox_id: str) -> str:
    """Send one outbox row. Safe to run twice, and to be killed at any point.

    What is guaranteed, and what is not (SMTP has no exactly-once handshake):
    - A row recorded as sent is never sent again, by any job or retry.
    - Before talking to the SMTP server the job claims the row (status "sending", claimed_at,
      claimed_by = RQ job id) and commits. If the worker is killed after that, RQ's started-job
      registry cleanup re-queues the job (Retry); the retry recognises its own claim and sends.
      A second job for the same row waits (outbox.OutboxBusy → RQ retries it) until the claim is released
      or older than outbox.CLAIM_LEASE, so two jobs never send concurrently.
    - A failure to send (SMTP refused, network) sets status "failed" with last_error and re-raises,
      so RQ retries it and, when the retries are spent, keeps it in its failed registry.
    - The one window left: the process dies after the server accepted the message (250 after
      DATA) and before the "sent" commit, milliseconds later. The retry then sends it again, with
      the same Message-ID (<outbox id@domain>), which lets the receiver see it is the same message.
      So delivery is at-least-once, and exactly-once except for a death inside that window.
    tests/test_email_jobs.py measures it: a real worker is SIGKILLed while it is inside an SMTP
    conversation in a batch of 100, restarted after the registry cleanup, and the test SMTP server
    counts 100 distinct Message-IDs and 100 messages in all.
    """
    row_id = uuid.UUID(outbox_id)
    token = outbox.attempt_token()
    if not outbox.claim(EmailOutbox, row_id, token, ready=EmailOutbox.status.in_(("queued", "failed"))):
        return "skipped"  # nothing to send: done already, not due yet, or gone
    row = db.session.get(EmailOutbox, row_id)
    try:
        context = _context(row)
        text, html = mail.render_email(row.template, **context)
        message = mail.build_message(row.to_email, row.subject, text, html, mail.message_id_for(row.id))
        mail.deliver(message)
    except Exception as exc:
        db.session.rollback()
        row = db.session.get(EmailOutbox, row_id)
        row.status, row.last_error, row.claimed_by = "failed", f"{type(exc).__name__}: {exc}"[:2000], None
        db.session.commit()
        log.warning("email %s failed (attempt %s): %s", outbox_id, row.attempts, row.last_error)
        raise  # RQ records the failure and retries
    row.status, row.sent_at, row.last_error, row.claimed_by = "sent", utcnow(), None, None
    db.session.commit()
    return "sent"


def _context(row: EmailOutbox) -> dict:
    context = dict(row.context)
    if row.template == "member_invite":
        context["link"] = members.invite_email_link(context["invite_id"])
        db.session.commit()
    elif row.template in recovery.EMAIL_LINKS:
        # The one-time link is made here, at sending, so no token is ever stored in the outbox row; a new email
        # (or this one sent again) voids the previous link. Committed before the message can reach anyone.
        user = db.session.get(User, row.user_id) if row.user_id else None
        context["link"] = recovery.email_link(row.template, user)
        db.session.commit()
    elif row.template == "confirm_lead":  # a prospect's double opt-in link, made the same way
        context["link"] = confirmation.email_link(context["lead_id"])
        db.session.commit()
    return context


def request_password_reset(email: str) -> None:
    """/auth/reset's job: the account lookup happens here, so the page answers alike for any address."""
    recovery.request_reset(email)
    db.session.commit()


def deliver_announcement(announcement_id: str) -> int:
    """Create the in-app notifications (and queue the emails) of an announcement; safe to run twice."""
    count = announcements.deliver(uuid.UUID(announcement_id))
    db.session.commit()
    return count


# --- the sweeper: nothing stays stranded in the database -------------------------------------------

SWEEP_BATCH = 1000  # rows of each kind per sweep; the next sweep takes the rest
SWEEP_JOB_ID = "leadflow-sweep-stranded"
_PENDING = {"queued", "started", "scheduled", "deferred"}


def requeue_stranded(grace_seconds: int | None = None) -> dict[str, int]:
    """Enqueue again the jobs whose rows say they are still to do and older than the grace period.

    What it looks for: email_outbox rows `queued`, or `failed` with retries left, untouched for the grace
    period, or `sending` under a claim older than outbox.CLAIM_LEASE (its sender died); announcements without
    `sent_at`; report exports still `queued`; text messages like emails; webhook deliveries `pending` and due for
    longer than the grace period, or `sending` under a claim older than their lease. That is work whose job never
    reached Redis (it was down), or that Redis lost (restarted without persistence), or whose retry RQ never got
    to schedule.
    The grace period (STRANDED_GRACE_SECONDS) gives a job enqueued the normal way time to run first.

    Safe to run at any time, from any number of processes: every job claims or locks its row, so a row
    found twice is still done once. Each job it enqueues is named after its row, and a row whose named
    job is still waiting or running is skipped, so sweeps do not pile up while a backlog drains.
    Returns how many of each kind it handed on (to Redis, or run here when Redis is down or unset).
    """
    grace = current_app.config.get("STRANDED_GRACE_SECONDS", 300) if grace_seconds is None else grace_seconds
    now = utcnow()
    cutoff = now - timedelta(seconds=grace)
    max_attempts = 1 + len(RETRY_INTERVALS)
    emails = db.session.scalars(
        sa.select(EmailOutbox.id)
        .where(
            sa.or_(
                sa.and_(EmailOutbox.status == "queued", EmailOutbox.updated_at <= cutoff),
                sa.and_(
                    EmailOutbox.status == "failed",
                    EmailOutbox.attempts < max_attempts,
                    EmailOutbox.updated_at <= cutoff,
                ),
                outbox.stale_claim(EmailOutbox, now),
            )
        )
        .order_by(EmailOutbox.created_at)
        .limit(SWEEP_BATCH)
    ).all()
    announcements = _oldest(Announcement.id, Announcement.created_at, Announcement.sent_at.is_(None), cutoff=cutoff)
    reports = _oldest(ReportExport.id, ReportExport.created_at, ReportExport.status == "queued", cutoff=cutoff)
    imports = _oldest(LeadImport.id, LeadImport.updated_at, LeadImport.status == "queued", cutoff=cutoff)
    db.session.rollback()  # end the read: a job run here writes from its own session (SQLite would wait on us)
    counts = {
        # Announcements first: delivering one queues its emails, which the next sweep (or their own jobs) sends.
        "announcements": sum(
            _requeue("app.jobs.tasks.deliver_announcement", "announcement", i, RUN) for i in announcements
        ),
        "emails": sum(_requeue("app.jobs.tasks.send_email", "email", i, WAIT) for i in emails),
        "reports": sum(_requeue("app.jobs.reports.build_report_pdf", "report", i, RUN) for i in reports),
        "imports": sum(_requeue("app.jobs.imports.run_import", "import", i, RUN) for i in imports),
        "sms": sms_jobs.requeue_stranded(cutoff, now),
        "webhooks": requeue_deliveries(grace),
    }
    if any(counts.values()):
        log.warning("requeued stranded work: %s", counts)
    return counts


def _oldest(column, since, *where, cutoff):
    """Up to SWEEP_BATCH ids of rows that match `where` and have waited since before `cutoff`, oldest first."""
    stmt = sa.select(column).where(*where, since <= cutoff).order_by(since).limit(SWEEP_BATCH)
    return db.session.scalars(stmt).all()


def _requeue(job: str, kind: str, row_id, when_down: str) -> bool:
    job_id = f"stranded-{kind}-{row_id}"
    if job_pending(job_id):
        return False
    enqueue(job, str(row_id), job_id=job_id, when_down=when_down)
    return True


def job_pending(job_id: str) -> bool:
    """True if RQ holds this job waiting, scheduled or running (then there is nothing to add)."""
    from redis.exceptions import RedisError
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from app.extensions import redis_handle

    if redis_handle.client is None or redis_handle.is_down():
        return False
    try:
        status = Job.fetch(job_id, connection=redis_handle.client).get_status(refresh=False)
    except NoSuchJobError:
        return False
    except RedisError:
        redis_handle.mark_down()
        return False
    return str(getattr(status, "value", status)) in _PENDING


def sweep_stranded() -> dict[str, int]:
    """The sweeper as an RQ job: `flask worker` enqueues it every SWEEP_INTERVAL_SECONDS."""
    return requeue_stranded()
