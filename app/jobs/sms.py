"""The SMS outbox's job: send one row, safe to run twice (the claim of app.jobs.outbox), and the sweeper's
part for rows whose job never ran."""

import logging
import uuid

import sqlalchemy as sa
from twilio.base.exceptions import TwilioRestException

from app.comms import sms
from app.extensions import db
from app.jobs import outbox
from app.jobs.queue import RETRY_INTERVALS, WAIT
from app.models import SmsOutbox, User
from app.models.base import utcnow

log = logging.getLogger(__name__)

SWEEP_BATCH = 1000


def _finish(row: SmsOutbox, status: str, **values) -> str:
    row.status, row.claimed_by = status, None
    for name, value in values.items():
        setattr(row, name, value)
    db.session.commit()
    return status


def send_sms(outbox_id: str) -> str:
    """Send one SMS outbox row. Safe to run twice, and to be killed at any point (see send_email: a row recorded as
    sent is never sent again; two jobs never send one row at once).

    A recipient who opted out (STOP) after the row was queued is not texted: the row is `skipped`. Twilio's error
    21610 (the recipient unsubscribed from this sender) opts the user out and skips the row, without retrying.
    Any other failure marks the row `failed` and re-raises, so RQ retries it.
    """
    row_id = uuid.UUID(outbox_id)
    token = outbox.attempt_token()
    if not outbox.claim(SmsOutbox, row_id, token, ready=SmsOutbox.status.in_(("queued", "failed"))):
        return "skipped"  # nothing to send: done already, not due yet, or gone
    row = db.session.get(SmsOutbox, row_id)
    user = db.session.get(User, row.user_id) if row.user_id else None
    if user is None or not user.sms_opt_in or user.sms_opted_out_at is not None or user.phone != row.to_phone:
        return _finish(row, "skipped", last_error="The recipient no longer takes text messages at this number.")
    try:
        provider_id = sms.deliver(row.to_phone, row.body)
    except TwilioRestException as exc:
        db.session.rollback()
        row = db.session.get(SmsOutbox, row_id)
        error = f"Twilio {exc.status} error {exc.code}: {exc.msg}"[:2000]
        if exc.code == sms.UNSUBSCRIBED:
            sms.opt_out(sms.users_with_phone(row.to_phone), via="Twilio 21610")
            return _finish(row, "skipped", last_error=error)
        _finish(row, "failed", last_error=error)
        log.warning("sms %s failed (attempt %s): %s", outbox_id, row.attempts, error)
        raise
    except Exception as exc:
        db.session.rollback()
        row = db.session.get(SmsOutbox, row_id)
        _finish(row, "failed", last_error=f"{type(exc).__name__}: {exc}"[:2000])
        log.warning("sms %s failed (attempt %s): %s", outbox_id, row.attempts, row.last_error)
        raise  # RQ records the failure and retries
    return _finish(row, "sent", sent_at=utcnow(), provider_id=provider_id, last_error=None)


def requeue_stranded(cutoff, now=None) -> int:
    """The sweeper's part (app.jobs.tasks.requeue_stranded): enqueue again the rows still to send and untouched
    since `cutoff` — queued, failed with retries left, or `sending` under a claim past the lease (its sender
    died). Returns how many it handed on."""
    from app.jobs.tasks import _requeue  # the sweeper's helper: named jobs, none queued twice

    now = now or utcnow()
    ids = db.session.scalars(
        sa.select(SmsOutbox.id)
        .where(
            sa.or_(
                sa.and_(SmsOutbox.status == "queued", SmsOutbox.updated_at <= cutoff),
                sa.and_(
                    SmsOutbox.status == "failed",
                    SmsOutbox.attempts < 1 + len(RETRY_INTERVALS),
                    SmsOutbox.updated_at <= cutoff,
                ),
                outbox.stale_claim(SmsOutbox, now),
            )
        )
        .order_by(SmsOutbox.created_at)
        .limit(SWEEP_BATCH)
    ).all()
    db.session.rollback()  # end the read: a job run here writes from its own session
    return sum(_requeue("app.jobs.sms.send_sms", "sms", row_id, WAIT) for row_id in ids)
