"""Claiming an outbox row (an email, a text message, a webhook delivery) for one attempt of the job that sends it.

The job claims the row with one conditional UPDATE (atomic on PostgreSQL and SQLite alike) and COMMITs before any
traffic: status `sending`, claimed_at, claimed_by = the RQ job id, attempts + 1. It succeeds for a row that is
ready to send, for a row this same job claimed before (its earlier run died mid-send: RQ only re-runs a started
job once that run is gone), and for a claim older than CLAIM_LEASE (its sender died). A fresh claim of another job
refuses it (OutboxBusy: RQ retries the job later), so two jobs never send the same row at once.
"""

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models.base import utcnow

# Longer than any provider's timeout and any job's, so a live sender always finishes first.
CLAIM_LEASE = timedelta(minutes=5)


class OutboxBusy(Exception):
    """Another job holds a fresh claim on this row; RQ retries this one later."""


def attempt_token() -> str:
    """Who is sending: the RQ job id (the same across its retries), or a one-off id when run in-process."""
    from rq import get_current_job

    job = get_current_job()
    return (job.id if job is not None else f"inline-{uuid.uuid4().hex}")[:100]


def stale_claim(model, now: datetime):
    """The rows left `sending` by a sender that died: their claim is older than the lease."""
    return sa.and_(model.status == "sending", model.claimed_at < now - CLAIM_LEASE)


def claim(model, row_id: uuid.UUID, token: str, ready) -> bool:
    """Take the row for this attempt and commit; `ready` says which rows may be sent (e.g. queued or failed).

    True: this attempt holds the row. False: nothing to send (sent, skipped or gone). OutboxBusy: another job
    holds a fresh claim."""
    now = utcnow()
    result = db.session.execute(
        sa.update(model)
        .where(
            model.id == row_id,
            sa.or_(ready, sa.and_(model.status == "sending", model.claimed_by == token), stale_claim(model, now)),
        )
        .values(status="sending", claimed_at=now, claimed_by=token, attempts=model.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount == 1:
        return True
    row = db.session.get(model, row_id)
    status = row.status if row is not None else None
    db.session.rollback()
    if status == "sending":
        raise OutboxBusy(f"{model.__tablename__} {row_id} is being sent by another job")
    return False
