"""Prometheus metrics (SPEC §9.7): the series the app records (GET /metrics is app/ops/metrics_view.py).

Counters and histograms live in this process (`make run`, tests) or, under gunicorn with PROMETHEUS_MULTIPROC_DIR
set before the app is imported, in that directory's memory-mapped files, so a scrape of any worker reports all of
them. Counts of rows and jobs (outboxes, queues) are read at scrape time (app/ops/metrics_state.py): they are state,
not events, and need no bookkeeping on the hot path.

This module imports nothing of the app (the audit trail and the live socket import it), and prometheus_client picks
its multiprocess mode when first imported: a gunicorn conf must set PROMETHEUS_MULTIPROC_DIR before the app loads.
"""

import os
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

# Page latencies are milliseconds; exports and reports take seconds. Twelve buckets keep the series count small.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUEST_SECONDS = Histogram(
    "leadflow_http_request_duration_seconds",
    "Time from the first before_request hook to the response, by Flask endpoint, method and status.",
    ("endpoint", "method", "status"),
    buckets=LATENCY_BUCKETS,
)
LIVE_CONNECTIONS = Gauge(
    "leadflow_live_connections",
    "Open live-badge connections (WebSocket) held by running processes.",
    multiprocess_mode="livesum",  # a dead worker's sockets are gone: its value leaves the sum (mark_process_dead)
)
STRIPE_WEBHOOK_FAILURES = Counter(
    "leadflow_stripe_webhook_failures",
    "Stripe webhook deliveries answered with an error: rejected (bad signature or unreadable) or failed (processing).",
    ("reason",),
)
MONEY_ACTIONS = Counter(
    "leadflow_money_actions",
    "Committed money actions by audit action (commission.*, payment.*, platform_fee*, credit.*, lead amounts).",
    ("action",),
)
for _reason in ("rejected", "failed"):
    STRIPE_WEBHOOK_FAILURES.labels(_reason)  # present at 0 from the start, so rate() sees the first failure

# The audit actions that move or commit money (app/money, lead amounts in app/leads/pipeline.py).
MONEY_PREFIXES = ("commission.", "payment.", "platform_fee", "credit.")
MONEY_LEAD_ACTIONS = frozenset({"lead.amounts_changed", "lead.fee_override"})

# --- recording ------------------------------------------------------------------------------------


def live_socket_opened() -> None:
    LIVE_CONNECTIONS.inc()


def live_socket_closed() -> None:
    LIVE_CONNECTIONS.dec()


@contextmanager
def live_socket():
    """`with live_socket():` around the time a live connection is held open."""
    live_socket_opened()
    try:
        yield
    finally:
        live_socket_closed()


def stripe_webhook_failed(reason: str) -> None:
    """reason: "rejected" (answered 400) or "failed" (the event could not be applied: 500, Stripe retries)."""
    STRIPE_WEBHOOK_FAILURES.labels(reason).inc()


def is_money_action(action: str) -> bool:
    return action.startswith(MONEY_PREFIXES) or action in MONEY_LEAD_ACTIONS


def money_action(session, action: str) -> None:
    """Count `action` once its transaction commits (a rolled-back action never happened); others are ignored."""
    if is_money_action(action):
        from app.jobs.after_commit import on_commit

        on_commit(session, lambda: MONEY_ACTIONS.labels(action).inc())


def mark_process_dead(pid: int) -> None:
    """gunicorn's child_exit hook: drop a dead worker's live gauges (its counters stay in the totals)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, path)
