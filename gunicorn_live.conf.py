"""gunicorn settings for the live tier (Procfile `websocket`): the /ws/notifications sockets.

A gevent worker serves each connection on a greenlet, so an open tab costs a socket and a few KB, not
a thread: one worker holds thousands. psycopg 3, redis-py and the stdlib queues all wait through the
monkey-patched sockets and locks, so a socket reading the database does not block the others.

On SIGTERM the worker stops accepting, every open socket gets a close frame 1001 (going away) at once
(`_close_sockets_when_stopping`), and the process exits as soon as they have closed, at the latest
after LIVE_GRACEFUL_TIMEOUT seconds. Every setting can be changed through the environment.
"""

import os
import resource

os.environ["LIVE_TIER"] = "1"  # read by config.py: this process serves /ws/ even with LIVE_SOCKET_URL set

bind = os.environ.get("LIVE_BIND") or f"0.0.0.0:{os.environ.get('LIVE_PORT', '5001')}"
worker_class = "gevent"
workers = int(os.environ.get("LIVE_WORKERS", "1"))  # one process per core holds thousands of sockets
worker_connections = int(os.environ.get("LIVE_WORKER_CONNECTIONS", "5000"))  # open sockets per worker, at most
timeout = int(os.environ.get("LIVE_TIMEOUT", "30"))  # a worker silent this long (a blocked hub) is restarted
graceful_timeout = int(os.environ.get("LIVE_GRACEFUL_TIMEOUT", "10"))  # SIGTERM → exit, at the latest
keepalive = 5
accesslog = os.environ.get("LIVE_ACCESS_LOG") or None  # "-" for stdout; off by default: one line per socket
loglevel = os.environ.get("LIVE_LOG_LEVEL", "info")
proc_name = "leadflow-live"
# gunicorn ≥ 25 opens a control socket at one default path per user; the web tier's gunicorn on the same machine
# claims that path, so this second master stays off it (stop it with SIGTERM, as any process manager does).
control_socket_disable = True

STOP_POLL_SECONDS = 0.2
SPARE_FDS = 256  # log files, database and Redis connections beside the sockets


def on_starting(server) -> None:
    """Metrics in a directory of this master's own (app/ops/metrics_dir.py), and room for the sockets."""
    from app.ops.metrics_dir import prepare_multiprocess_dir

    prepare_multiprocess_dir("live")
    _raise_open_files_limit(server)


def _raise_open_files_limit(server) -> None:
    """Each socket is a file descriptor: lift the soft limit (often 1,024) to what the workers may hold."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = workers * worker_connections + SPARE_FDS
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < wanted:
            server.log.warning("open files limited to %d (hard limit): fewer sockets than worker_connections", target)


def _close_sockets_when_stopping(worker) -> None:
    """gunicorn's gevent worker only waits for its connections when it stops: tell them to go."""
    import gevent

    while worker.alive:
        gevent.sleep(STOP_POLL_SECONDS)
    from app import realtime

    told = realtime.hub.go_away()
    worker.log.info("live tier stopping: close frame 1001 to %d open socket(s)", told)


def post_worker_init(worker) -> None:
    import gevent  # the worker has monkey-patched by now; the master never imports gevent

    gevent.spawn(_close_sockets_when_stopping, worker)


def child_exit(server, worker) -> None:
    """The metrics of a dead worker must not linger in the multiprocess registry (app/ops/metrics.py)."""
    try:
        from app.ops.metrics import mark_process_dead
    except ImportError:
        return
    mark_process_dead(worker.pid)
