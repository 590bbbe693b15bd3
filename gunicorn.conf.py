"""gunicorn settings for the page workers (the Procfile's `web:` line, the image's command).

Everything comes from the environment, so one file serves a laptop, the compose file and a platform that
sets PORT. Live-badge WebSockets are never served here: they go to the `websocket` process
(gunicorn_live.conf.py, reached through LIVE_SOCKET_URL), so a page thread never waits on an open tab. Without
that tier the pages poll the badge.
"""

import os

os.environ["PAGE_TIER"] = "1"  # read by config.py: a page worker never serves /ws/ (each tab would hold a thread)


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _json_logs() -> bool:
    # The production configuration always logs JSON (config.ProductionConfig); elsewhere JSON_LOGS decides.
    flag = (os.environ.get("JSON_LOGS") or "").lower() in {"1", "true", "yes", "on"}
    return flag or os.environ.get("LEADFLOW_CONFIG") == "production"


bind = f"{os.environ.get('HOST', '0.0.0.0')}:{_int('PORT', 5000)}"  # noqa: S104  # nosec B104: inside a container
worker_class = "gthread"
workers = _int("WEB_CONCURRENCY", 2)
# Each thread holds at most one database connection: the app sizes its pool from the same variable.
threads = _int("WEB_THREADS", 16)
timeout = _int("WEB_TIMEOUT", 120)  # a worker silent this long is killed and replaced
graceful_timeout = _int("WEB_GRACEFUL_TIMEOUT", 30)  # on SIGTERM, requests in flight get this long to finish
keepalive = _int("WEB_KEEPALIVE", 5)  # seconds an idle keep-alive connection from the proxy stays open
# The app writes one JSON line per request (app/production.py) with the request id and user, so gunicorn's
# own access log would only repeat it; without JSON logs the classic access log goes to stdout.
accesslog = None if _json_logs() else "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
if _json_logs():
    # gunicorn's own lines (booting, worker timeouts) as JSON too, so a log pipeline reads one format.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "app.production.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        # Replaces gunicorn's defaults: the root logger keeps no handler (the app adds its JSON one) and the
        # access logger, which any logconfig_dict switches on, writes nowhere.
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {"handlers": ["stderr"], "level": loglevel.upper(), "propagate": False},
            "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        },
    }


# The app loads in each worker, after on_starting has set PROMETHEUS_MULTIPROC_DIR (prometheus_client reads it once,
# at import): with preload the master would import the app, and its metrics, before the hook runs.
preload_app = False
# gunicorn's control socket sits at one path per user: a second master on the machine (the websocket tier, a
# test run) would fight over it, and process managers stop gunicorn with signals anyway.
control_socket_disable = True


def on_starting(server) -> None:
    """Give the workers a shared, empty directory for Prometheus' multiprocess metrics (app/ops/metrics_dir.py)."""
    from app.ops.metrics_dir import prepare_multiprocess_dir

    prepare_multiprocess_dir()
    if not os.environ.get("LIVE_SOCKET_URL"):
        server.log.warning("LIVE_SOCKET_URL is not set: no live tier, so open tabs poll the badge every 15 s")


def child_exit(server, worker) -> None:
    """A worker ended: fold its live gauges out of the metrics (prometheus_client's multiprocess mode)."""
    try:
        from app.ops.metrics import mark_process_dead
    except ImportError:  # metrics are not part of this build
        return
    mark_process_dead(worker.pid)
