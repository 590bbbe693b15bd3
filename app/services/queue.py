"""Enqueue background jobs: RQ on Redis when REDIS_URL is set, otherwise run them in-process."""

import logging

from flask import current_app

from app.extensions import redis_handle

log = logging.getLogger(__name__)


def get_queue():
    from rq import Queue

    return Queue(current_app.config["RQ_QUEUE"], connection=redis_handle.client)


def enqueue(func, *args, retries: int = 3):
    """Jobs take primitive ids. In-process mode runs the job now and logs (not raises) its failure."""
    if redis_handle.client is None:
        # A fresh app context gives the job its own database session, as a worker would have;
        # we are often called from the committing session's after_commit hook.
        try:
            with current_app.app_context():
                func(*args)
        except Exception:  # an email failure must not fail the request that caused it
            log.exception("in-process job %s failed", func.__name__)
        return None
    from rq import Retry

    return get_queue().enqueue(func, *args, retry=Retry(max=retries, interval=[5, 30, 120]))
