"""The webhook delivery job (RQ) and its sweeper: each delivery posted, retried with backoff, then `failed`.

`deliver(delivery_id)` is safe to run twice and to be killed at any point, like app.jobs.tasks.send_email:
- It claims the row first (status `sending`, claimed_at, claimed_by = the RQ job id, attempts + 1) with one
  conditional UPDATE and commits before any HTTP traffic. A row already delivered, failed, or pending but not due
  yet is skipped; a fresh claim of another job makes this one wait (OutboxBusy → RQ retries it later); the same
  job's own claim (its earlier run was killed, RQ re-ran it) or a claim past its lease is taken over (app.jobs.outbox).
- One POST (app/comms/webhook_http.post: the address checked again, connected to as checked, no redirects), then
  one WebhookAttempt row (status code, duration, error). 2xx → `delivered`. Anything else → `pending` with
  next_attempt_at after the next backoff step (WEBHOOK_RETRY_SECONDS), enqueued for that moment on RQ's
  scheduler (and found by the sweeper if that is lost), or `failed` after the last step (the partner's owners and
  managers are told, once a day per endpoint). A test ping is tried once.
- The one window left: the process dies after the receiver answered 2xx and before the `delivered` commit,
  milliseconds later. The retry then posts the same event again, with the same id (body `id`,
  X-LeadFlow-Delivery), by which the receiver drops the repeat. At-least-once, and exactly-once except for a
  death inside that window; tests/test_webhooks.py kills a real worker mid-POST and counts.
"""

import json
import logging
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.access import WORKERS
from app.comms import webhook_http
from app.comms.notifications import notify, path_for
from app.extensions import db, redis_handle
from app.jobs import outbox
from app.jobs.queue import FAILURE_TTL, RETRY_INTERVALS, WAIT, enqueue, get_queue
from app.models import Notification, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.models.base import utcnow
from app.partners.members import active_users

log = logging.getLogger(__name__)

JOB = "app.jobs.webhooks.deliver"
# Seconds before the 2nd, 3rd, ... attempt; after the last step the delivery is `failed`.
DEFAULT_RETRY_SECONDS = (30, 120, 600, 3600, 21600)
# A scheduled retry may start a moment before the time the row says (clocks read at different instants).
EARLY = timedelta(seconds=1)
SWEEP_BATCH = 1000
# A receiver that is down fails every event: its owners and managers are told once a day per endpoint.
FAILURE_NOTICE_EVERY = timedelta(hours=24)


def retry_schedule() -> tuple[float, ...]:
    """WEBHOOK_RETRY_SECONDS: a list of seconds, or the same as comma-separated text."""
    value = current_app.config.get("WEBHOOK_RETRY_SECONDS") or DEFAULT_RETRY_SECONDS
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    return tuple(float(step) for step in value)


def _due():
    """A pending delivery whose (re)try time has come."""
    due = sa.or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= utcnow() + EARLY)
    return sa.and_(WebhookDelivery.status == "pending", due)


def deliver(delivery_id: str) -> str:
    """Post one delivery (see the module's docstring). Returns what happened: delivered, retry, failed, skipped."""
    row_id = uuid.UUID(str(delivery_id))
    token = outbox.attempt_token()
    if not outbox.claim(WebhookDelivery, row_id, token, ready=_due()):
        return "skipped"  # nothing to send: done already, not due yet, or gone
    delivery = db.session.get(WebhookDelivery, row_id)
    if delivery is None:  # its endpoint was deleted, with its log, since the claim
        db.session.rollback()
        return "skipped"
    endpoint = delivery.endpoint
    if not endpoint.is_active and not delivery.is_test:
        return _finish(row_id, token, None, "failed", "The webhook was turned off before this was sent.")
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    url, secret, event, event_id = endpoint.url, endpoint.secret, delivery.event, delivery.event_id
    db.session.rollback()  # no transaction (and, on SQLite, no lock) held while the receiver takes its time
    headers = webhook_http.signed_headers(secret, body, event, event_id)
    answer = webhook_http.post(url, body, headers, float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"]))
    return _finish(row_id, token, answer, "delivered" if answer.ok else "retry", answer.error)


def _finish(row_id: uuid.UUID, token: str, answer, outcome: str, error: str | None) -> str:
    """Record the attempt and the delivery's new state, then enqueue the next attempt for its time."""
    now = utcnow()
    delivery = db.session.get(WebhookDelivery, row_id, with_for_update=True)
    if delivery is None:  # the endpoint was deleted meanwhile
        db.session.rollback()
        return "skipped"
    if answer is not None:
        db.session.add(
            WebhookAttempt(
                delivery_id=row_id,
                started_at=now - timedelta(milliseconds=answer.duration_ms),
                response_code=answer.status,
                duration_ms=answer.duration_ms,
                error=answer.error,
            )
        )
    if delivery.status != "sending" or delivery.claimed_by != token:
        db.session.commit()  # redelivered or taken over meanwhile: the attempt is logged, the row is theirs
        return "skipped"
    steps = retry_schedule()
    if outcome == "retry" and (delivery.is_test or delivery.attempts > len(steps)):
        outcome = "failed"
    delivery.response_code = answer.status if answer is not None else None
    delivery.last_error, delivery.claimed_by = error, None
    delay = None
    if outcome == "delivered":
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
    elif outcome == "failed":
        delivery.status, delivery.next_attempt_at = "failed", None
        tell_failed(delivery)
    else:
        delay = steps[delivery.attempts - 1]
        delivery.status, delivery.next_attempt_at = "pending", now + timedelta(seconds=delay)
    attempts = delivery.attempts
    db.session.commit()
    if delay is not None:
        _enqueue_in(str(row_id), delay)
        log.info("webhook delivery %s: attempt %s failed (%s); next in %ss", row_id, attempts, error, delay)
    elif outcome == "failed":
        log.warning("webhook delivery %s failed after %s attempt(s): %s", row_id, attempts, error)
    return outcome


def tell_failed(delivery: WebhookDelivery) -> None:
    """A delivery failed for good: tell the partner's owners and managers (in the delivery's own transaction), unless
    they were told about this endpoint within FAILURE_NOTICE_EVERY. Test pings are answered on the page instead."""
    if delivery.is_test:
        return
    # Not locked: a delete of the endpoint holds it while it waits for this delivery's row. Two deliveries failing
    # in the same instant may both tell; that is the price.
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None:
        return
    link = path_for("cp.webhook_detail", endpoint_id=endpoint.id)
    told = sa.select(Notification.id).where(
        Notification.event == "webhook_failing",
        Notification.link == link,
        Notification.created_at > utcnow() - FAILURE_NOTICE_EVERY,
    )
    if db.session.scalar(told.limit(1)) is not None:
        return
    notify(
        active_users(endpoint.partner, WORKERS),
        "webhook_failing",
        link=link,
        event=delivery.event,
        url=endpoint.url,
        attempts=delivery.attempts,
        error=(delivery.last_error or "no answer")[:200],
    )


def _enqueue_in(delivery_id: str, seconds: float) -> None:
    """The next attempt, at its time, on RQ's scheduler (`flask worker` runs it). Without Redis, or with it down,
    the row waits, `pending` with its next_attempt_at, for the sweeper: nothing sleeps in a process."""
    if redis_handle.client is None or redis_handle.is_down():
        return
    from redis.exceptions import RedisError
    from rq import Retry

    intervals = list(current_app.config.get("RQ_RETRY_INTERVALS") or RETRY_INTERVALS)
    try:
        get_queue().enqueue_in(
            timedelta(seconds=seconds),
            JOB,
            delivery_id,
            retry=Retry(max=3, interval=intervals),
            failure_ttl=FAILURE_TTL,
            description=f"deliver({delivery_id})",
        )
    except RedisError as exc:
        redis_handle.mark_down()
        log.warning("Redis is unreachable (%s): webhook delivery %s waits for the sweeper", exc, delivery_id)


def requeue_deliveries(grace_seconds: float) -> int:
    """The sweeper's part for webhooks (app.jobs.tasks.requeue_stranded): enqueue again the deliveries that are
    `pending` and due for longer than the grace period (their job never reached Redis, Redis lost it, or no
    worker ran the scheduled retry) and those `sending` under a claim older than outbox.CLAIM_LEASE (their worker
    died). Each job is named after its row and skipped while that job waits or runs; the claim makes a row
    found twice post once. Returns how many it handed on."""
    from app.jobs.tasks import job_pending

    now = utcnow()
    ids = db.session.scalars(
        sa.select(WebhookDelivery.id)
        .where(
            sa.or_(
                sa.and_(
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now - timedelta(seconds=grace_seconds),
                ),
                outbox.stale_claim(WebhookDelivery, now),
            )
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(SWEEP_BATCH)
    ).all()
    db.session.rollback()  # end the read: a job run here writes from its own session
    handed = 0
    for delivery_id in ids:
        job_id = f"stranded-webhook-{delivery_id}"
        if job_pending(job_id):
            continue
        enqueue(JOB, str(delivery_id), job_id=job_id, when_down=WAIT)
        handed += 1
    return handed
