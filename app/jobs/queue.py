"""Enqueue background jobs: RQ on Redis when REDIS_URL is set, otherwise run them in-process.

Redis being down never fails the request and never loses work. Each job keeps its state in the
database (an outbox row `queued`, an announcement without `sent_at`, a report export `queued`), so
when Redis cannot take a job, `enqueue` either runs it now in-process (`when_down="run"`, what the
no-Redis mode does) or leaves it to that row (`when_down="wait"`), which app.jobs.tasks.requeue_stranded
enqueues again once Redis is back (the worker runs it at start and every minute).
"""

import logging
from importlib import import_module

from flask import current_app

from app.extensions import redis_handle
from app.production import current_request_id, log_context

log = logging.getLogger(__name__)

RETRY_INTERVALS = (5, 30, 120)  # seconds before the 1st, 2nd and 3rd retry
FAILURE_TTL = 30 * 24 * 3600  # a job that spent its retries stays in RQ's failed registry for 30 days
RUN, WAIT = "run", "wait"


def get_queue():
    from rq import Queue

    return Queue(current_app.config["RQ_QUEUE"], connection=redis_handle.client)


def resolve(job) -> callable:
    """The job function for `job`: a callable, or its dotted path such as "app.jobs.tasks.send_email"."""
    if callable(job):
        return job
    module_name, _, name = job.rpartition(".")
    return getattr(import_module(module_name), name)


def _job_name(job) -> str:
    return job if isinstance(job, str) else job.__name__


def run_now(job, *args) -> None:
    """Run a job in this process. Logs (does not raise) a failure: the job's own row shows it.

    Its own app context, so its own database session: enqueue usually runs from an after-commit hook,
    where the caller's session can emit no more SQL.
    """
    request_id = current_request_id()  # read before the new app context hides the request's `g`
    with current_app.app_context(), log_context(request_id=request_id):
        try:
            resolve(job)(*args)
        except Exception:
            log.exception("in-process job %s failed", _job_name(job))


def enqueue(job, *args, retries: int = 3, when_down: str = RUN, job_id: str | None = None):
    """Run `job(*args)` in a worker (with Retry) or, without Redis, now.

    `job` is a dotted path ("app.jobs.tasks.send_email"; RQ takes one natively, in-process mode
    imports it), so callers need not import the job module (which imports theirs). Jobs take primitive ids. An email failing must not fail the request that caused it, and neither
    must Redis: when it is unreachable the job runs now (`when_down="run"`) or waits in the database
    for the sweeper (`when_down="wait"`, for jobs too slow for a request, such as SMTP). `job_id`
    names the RQ job (the sweeper uses it so that it never queues the same row twice).
    Returns the RQ job, or None when the job ran in-process or waits.
    """
    if redis_handle.client is None:
        run_now(job, *args)
        return None
    if not redis_handle.is_down():
        from redis.exceptions import RedisError
        from rq import Retry

        intervals = list(current_app.config.get("RQ_RETRY_INTERVALS") or RETRY_INTERVALS)
        try:
            return get_queue().enqueue(
                job,
                *args,
                retry=Retry(max=retries, interval=intervals) if retries else None,
                failure_ttl=FAILURE_TTL,
                job_id=job_id,
                # The worker logs every line of the job with the id of the request that asked for it.
                meta={"request_id": request_id} if (request_id := current_request_id()) else None,
                description=f"{_job_name(job).rpartition('.')[2]}({', '.join(map(str, args))})",
            )
        except RedisError as exc:  # enqueued after the commit: the rows stand
            redis_handle.mark_down()
            log.warning("Redis is unreachable (%s): %s%r %s", exc, _job_name(job), args, _fallback_word(when_down))
    if when_down == RUN:
        run_now(job, *args)
    return None


def _fallback_word(when_down: str) -> str:
    return "runs in-process" if when_down == RUN else "waits in the database for the sweeper"
