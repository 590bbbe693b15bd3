"""GET /metrics for Prometheus, and the hook that times every request.

/metrics is for machines: the blueprint's guard admits by network and bearer token (app/ops/metrics_access.py);
a browser session admits nothing, whatever its role.
"""

import os
import time

from flask import Blueprint, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from app.access import public
from app.ops.metrics import REQUEST_SECONDS

UNMATCHED = "unmatched"  # a 404 for a path no route matches: one label value, never the raw path
# Any token is a method to HTTP: one made up per request would be a new series each time (the same for the path).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

bp = Blueprint("metrics", __name__)


@bp.record_once
def _check_settings(state) -> None:
    from app.ops.metrics_access import check_settings

    check_settings(state.app)


@bp.after_app_request
def observe_request(response):
    """One histogram observation per request; the start time is app.production's first before_request hook."""
    started = g.get("request_started")
    # A WebSocket's "request" lasts as long as the tab stays open: leadflow_live_connections counts those instead.
    if started is not None and request.environ.get("HTTP_UPGRADE", "").lower() != "websocket":
        method = request.method if request.method in METHODS else "other"
        labels = (request.endpoint or UNMATCHED, method, str(response.status_code))
        REQUEST_SECONDS.labels(*labels).observe(time.perf_counter() - started)
    return response


class _Scrape:
    """What one scrape reports: the recorded series (this process's, or every worker's) and the scrape-time state."""

    def __init__(self, *collectors):
        self.collectors = collectors

    def collect(self):
        for collector in self.collectors:
            yield from collector.collect()


def recorded_series():
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return REGISTRY
    from prometheus_client.multiprocess import MultiProcessCollector

    return MultiProcessCollector(None, path=path)


@bp.before_request
def guard():
    from app.ops.metrics_access import refusal

    return refusal()


@bp.get("/metrics", endpoint="metrics")
@public  # no session role admits it: the blueprint's guard asks for the network and the token instead
def metrics():
    from app.ops.metrics_state import StateCollector

    body = generate_latest(_Scrape(recorded_series(), StateCollector()))
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
