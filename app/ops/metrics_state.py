"""Series read at scrape time: RQ's queue from Redis, the outboxes from the database.

A scrape never fails because Redis or the database is down: `leadflow_redis_up` / `leadflow_database_up` say so
and the series that depend on them are left out (a missing series, not a misleading 0).

The row counts are cheap by construction: each counts only the non-final states (queued, sending, failed; leads in
review or approved) through an index that leads with the state column (email_outbox, sms_outbox: ix_*_status;
webhook_deliveries: ix_webhook_deliveries_due; leads: ix_leads_intake_score), so the ever-growing sent, delivered
and distributed rows are never read.
"""

import logging

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

# (series, model name, its state column, the states counted, help): terminal states (sent, delivered, skipped,
# distributed) are not state to watch and are never read.
BACKLOGS = (
    ("leadflow_email_outbox", "EmailOutbox", "status", ("queued", "sending", "failed"), "Emails by state."),
    ("leadflow_sms_outbox", "SmsOutbox", "status", ("queued", "sending", "failed"), "Text messages by state."),
    (
        "leadflow_webhook_deliveries",
        "WebhookDelivery",
        "status",
        ("pending", "sending", "failed"),
        "Partner webhook deliveries by state.",
    ),
    (
        "leadflow_leads_waiting",
        "Lead",
        "intake_status",
        ("pending_review", "approved"),
        "The routing backlog: leads awaiting an admin's review, and approved leads awaiting a partner.",
    ),
)
# RQ's keys for one queue: the waiting list, then its registries (rq 2.x names them on the Queue object).
RQ_STATES = ("queued", "started", "scheduled", "deferred", "failed")


class StateCollector:
    """A prometheus_client collector; built per scrape inside the request, so it may use the app's session."""

    def collect(self):
        yield from queue_families()
        yield from outbox_families()


def queue_families() -> list:
    from flask import current_app

    from app.extensions import redis_handle

    client = redis_handle.client
    if client is None:
        return []  # embedded mode (no REDIS_URL): jobs run in the request, there is no queue to watch
    up = GaugeMetricFamily("leadflow_redis_up", "1 when Redis answered this scrape, 0 when it is unreachable.")
    name = current_app.config["RQ_QUEUE"]
    counts = None if redis_handle.is_down() else _read_queue(client, name)
    up.add_metric([], 0 if counts is None else 1)
    if counts is None:
        return [up]
    jobs = GaugeMetricFamily(
        "leadflow_rq_jobs", "RQ jobs by state: queued = the queue's depth.", labels=["queue", "state"]
    )
    for state in RQ_STATES:
        jobs.add_metric([name, state], counts[state])
    workers = GaugeMetricFamily("leadflow_rq_workers", "RQ workers listening on the queue.", labels=["queue"])
    workers.add_metric([name], counts["workers"])
    return [up, jobs, workers]


def _read_queue(client, name: str) -> dict | None:
    """One round trip for the queue's length, its registries' sizes and its workers; None when Redis is down."""
    from redis.exceptions import RedisError
    from rq import Queue
    from rq.worker_registration import WORKERS_BY_QUEUE_KEY

    from app.extensions import redis_handle

    queue = Queue(name, connection=client)
    pipe = client.pipeline(transaction=False)
    pipe.llen(queue.key)
    for registry in (queue.started_job_registry, queue.scheduled_job_registry, queue.deferred_job_registry):
        pipe.zcard(registry.key)
    pipe.zcard(queue.failed_job_registry.key)
    pipe.scard(WORKERS_BY_QUEUE_KEY % name)
    try:
        *states, workers = pipe.execute()
    except RedisError as exc:
        redis_handle.mark_down()
        log.warning("metrics: Redis is unreachable (%s)", exc)
        return None
    return {**dict(zip(RQ_STATES, states, strict=True)), "workers": workers}


def outbox_families() -> list:
    from app.extensions import db

    up = GaugeMetricFamily("leadflow_database_up", "1 when the database answered this scrape's counts.")
    try:
        families = [_backlog_family(*backlog) for backlog in BACKLOGS] + [_oldest_email()]
    except sa.exc.SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("metrics: the database is unreachable (%s)", exc)
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    return [up, *families]


def _backlog_family(series: str, model_name: str, column: str, states: tuple[str, ...], doc: str) -> GaugeMetricFamily:
    from app import models
    from app.extensions import db

    state = getattr(getattr(models, model_name), column)
    rows = db.session.execute(sa.select(state, sa.func.count()).where(state.in_(states)).group_by(state))
    counts = dict(rows.all())
    family = GaugeMetricFamily(series, doc, labels=["state"])
    for name in states:
        family.add_metric([name], counts.get(name, 0))
    return family


def _oldest_email() -> GaugeMetricFamily:
    """How long the oldest unsent email has waited: a stuck outbox shows as a growing age, not just a count."""
    from app.extensions import db
    from app.models import EmailOutbox
    from app.models.base import utcnow

    oldest = db.session.scalar(
        sa.select(sa.func.min(EmailOutbox.created_at)).where(EmailOutbox.status.in_(("queued", "sending")))
    )
    family = GaugeMetricFamily(
        "leadflow_email_outbox_oldest_pending_seconds", "Age of the oldest queued or sending email (0: none waiting)."
    )
    family.add_metric([], (utcnow() - oldest).total_seconds() if oldest else 0)
    return family
