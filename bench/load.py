"""Driving load: wrk with a Lua script (preferred), or a small threaded client when wrk cannot be had."""

import json
import os
import shutil
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.client import Session
from bench.paths import MOVE_STAGES, Target

HERE = Path(__file__).resolve().parent


@dataclass
class Result:
    p50_ms: float
    p95_ms: float
    rps: float
    requests: int
    bad: int  # responses outside 2xx, plus socket errors
    statuses: dict


def ensure_wrk() -> str | None:
    """wrk from Debian; installed on the spot when we may (root), else None (the Python client is used)."""
    if shutil.which("wrk"):
        return shutil.which("wrk")
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True)
    return shutil.which("wrk")


def wrk_report(command: list[str], env: dict) -> dict:
    """Run wrk with one of bench/*.lua and return the BENCH_RESULT line its done() printed (bench/common.lua)."""
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-500:]} {out.stderr[-500:]}")
    return json.loads(line.removeprefix("BENCH_RESULT "))


def result_of(data: dict, failed=lambda code: not 200 <= code < 300) -> Result:
    """A wrk report as a Result: p50/p95 in ms, requests per second, and the answers that count as errors."""
    statuses = {int(k): v for k, v in data["statuses"].items()}
    bad = sum(n for code, n in statuses.items() if failed(code)) + data["socket_errors"]
    rps = data["requests"] / (data["duration_us"] / 1e6)
    return Result(data["p50_us"] / 1000, data["p95_us"] / 1000, rps, data["requests"], bad, statuses)


def run_wrk(wrk: str, base: str, session: Session, target: Target, seconds: float, connections: int) -> Result:
    headers = {"Cookie": session.cookie_header(), **target.headers}
    if target.method != "GET":
        headers["X-CSRFToken"] = session.csrf
    env = {
        **os.environ,
        "BENCH_METHOD": target.method,
        "BENCH_PATHS": "\n".join(target.paths),
        "BENCH_BODIES": "\n".join(target.bodies),
        "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in headers.items()),
        "BENCH_MOVES": "\n".join(target.moves),
        "BENCH_STAGES": "\n".join(MOVE_STAGES),
        "BENCH_THREADS": str(connections),
    }
    script = HERE / ("move.lua" if target.moves else "load.lua")
    command = [wrk, f"-t{connections}", f"-c{connections}", f"-d{max(int(seconds), 1)}s", "--timeout", "30s"]
    return result_of(wrk_report([*command, "-s", str(script), base + target.paths[0]], env))


def run_threads(session: Session, target: Target, seconds: float, connections: int, min_requests: int = 0) -> Result:
    """The fallback: `connections` threads in a closed loop sharing the session; runs for `seconds` and
    until `min_requests` answers arrived (so a page slower than the run still gets a few samples)."""
    latencies, statuses, lock = [], {}, threading.Lock()
    deadline, hard_stop = time.monotonic() + seconds, time.monotonic() + max(seconds, 300)
    moves = [m.split(":") for m in target.moves]

    def more() -> bool:
        now = time.monotonic()
        return now < deadline or (len(latencies) < min_requests and now < hard_stop)

    def worker(n: int) -> None:
        mine = [m for i, m in enumerate(moves) if i % connections == n]
        k = n
        while more():
            k += 1
            if mine:
                move = mine[k % len(mine)]
                stage = MOVE_STAGES[(MOVE_STAGES.index(move[2]) + 1) % len(MOVE_STAGES)]
                path, body = target.paths[MOVE_STAGES.index(stage)], f"card={move[0]}:{move[1]}"
            else:
                path = target.paths[k % len(target.paths)]
                body = target.bodies[k % len(target.bodies)] if target.bodies else None
            answer = session.request(target.method, path, body, target.headers)
            if mine and answer.status == 200:
                move[1], move[2] = str(int(move[1]) + 1), stage
            with lock:
                latencies.append(answer.seconds * 1000)
                statuses[answer.status] = statuses.get(answer.status, 0) + 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    bad = sum(n for code, n in statuses.items() if not 200 <= code < 300)
    return Result(cuts[49], cuts[94], len(latencies) / elapsed, len(latencies), bad, statuses)
