"""Enqueue background jobs: RQ on Redis when REDIS_URL is set, otherwise run them in-process."""

import logging

from flask import current_app

from app.extensions import redis_handle

log = logging.getLogger(__name__)

RETRY_INTERVALS = (5, 30, 120)  # seconds before the 1st, 2nd and 3rd retry
FAILURE_TTL = 30 * 24 * 3600  # a job that spent its retries stays in RQ's failed registry for 30 days


def get_queue():
    from rq import Queue

    return Queue(current_app.config["RQ_QUEUE"], connection=redis_handle.client)


def enqueue(func, *args, retries: int = 3):
    """Run `func(*args)` in a worker (with Retry) or, without Redis, now.

    Jobs take primitive ids. In-process mode logs (does not raise) a failure, and so does a Redis
    outage: an email failing must not fail the request that caused it; the job's own record
    (e.g. the outbox row, status queued or failed) shows it.
    """
    if redis_handle.client is None:
        # Its own app context, so its own database session: enqueue usually runs from an after-commit
        # hook, where the caller's session can emit no more SQL.
        with current_app.app_context():
            try:
                func(*args)
            except Exception:
                log.exception("in-process job %s failed", func.__name__)
        return None
    from redis.exceptions import RedisError
    from rq import Retry

    intervals = list(current_app.config.get("RQ_RETRY_INTERVALS") or RETRY_INTERVALS)
    try:
        return get_queue().enqueue(
            func,
            *args,
            retry=Retry(max=retries, interval=intervals),
            failure_ttl=FAILURE_TTL,
            description=f"{func.__name__}({', '.join(map(str, args))})",
        )
    except RedisError:  # enqueued after the commit: the rows stand (an outbox row stays "queued")
        log.exception("could not enqueue %s%r", func.__name__, args)
        return None
