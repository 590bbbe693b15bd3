"""A real RQ worker for tests: the session app switched to Redis for one test, `flask worker` in a subprocess."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis

from app.extensions import redis_handle
from tests.conftest import database_url, redis_url

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def redis_mode(app, **config):
    """The app enqueues on the real Redis (a queue of its own) for the duration; restored afterwards."""
    url = redis_url()
    queue = f"test-comms-{uuid.uuid4().hex[:10]}"
    changes = {"REDIS_URL": url, "RQ_QUEUE": queue, "RQ_RETRY_INTERVALS": [0], **config}
    saved = {key: app.config.get(key) for key in changes}
    saved_client = redis_handle.client
    app.config.update(changes)
    client = redis.Redis.from_url(url)
    redis_handle.client = client
    try:
        yield client, queue
    finally:
        redis_handle.client = saved_client
        app.config.update(saved)
        forget_queue(client, queue)


def forget_queue(client, queue: str) -> None:
    """Delete the test queue, its registries and the jobs they name."""
    from rq import Queue

    rq_queue = Queue(queue, connection=client)
    registries = (
        rq_queue.started_job_registry,
        rq_queue.finished_job_registry,
        rq_queue.failed_job_registry,
        rq_queue.scheduled_job_registry,
        rq_queue.deferred_job_registry,
        rq_queue.canceled_job_registry,
    )
    job_ids = set(rq_queue.get_job_ids())
    for registry in registries:
        job_ids.update(client.zrange(registry.key, 0, -1))
    for job_id in job_ids:
        job_id = job_id.decode() if isinstance(job_id, bytes) else job_id
        client.delete(f"rq:job:{job_id.split(':')[0]}")
    for key in client.scan_iter(f"*{queue}*"):
        client.delete(key)


def worker_env(queue: str, **extra) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "FLASK_APP": "wsgi.py",
            "LEADFLOW_CONFIG": "test",
            "TEST_DATABASE_URL": database_url(),
            "REDIS_URL": redis_url(),
            "RQ_QUEUE": queue,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


def start_worker(queue: str, burst: bool = True, **extra) -> subprocess.Popen:
    """`flask worker [--burst]` in its own process group (so the test can kill it and its work horse)."""
    command = [sys.executable, "-m", "flask", "--app", "wsgi.py", "worker"] + (["--burst"] if burst else [])
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=worker_env(queue, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def run_worker(queue: str, timeout: float = 180, **extra) -> str:
    """Run a burst worker to the end of the queue; returns its log."""
    process = start_worker(queue, burst=True, **extra)
    output, _ = process.communicate(timeout=timeout)
    log = output.decode(errors="replace")
    assert process.returncode == 0, log
    return log


def kill_group(process: subprocess.Popen) -> list[int]:
    """SIGKILL the worker and its work horse, as a crash of the machine would. RQ puts the horse in a process
    group of its own (os.setpgrp right after the fork), so killing the worker's group alone would leave the horse
    running its job: it is found by its parent id first and killed by its id right after the worker (the worker
    first, so that it never sees its horse die and files the job itself). Returns the horses' ids."""
    horses = _children(process.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    for pid in horses:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not all(_gone(pid) for pid in horses):
        assert time.monotonic() < deadline, f"work horse {horses} still alive"
        time.sleep(0.02)
    return horses


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True
