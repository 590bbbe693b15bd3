"""The connection benchmark: N live-badge WebSockets, each logged in as a different user, held open on the
live tier while the hot CP pages are loaded on the page tier; then CP pages under 50/100/200 connections.

    python bench/live.py [--sockets 2000] [--samples 200] [--database-url postgresql://...]   (make bench-live)

Both tiers run as the Procfile runs them (gunicorn -c gunicorn.conf.py / -c gunicorn_live.conf.py, production
config, Redis between them) on loopback. Load the data first with `flask --app wsgi.py seed-scale` (at least
--sockets channel partners). It reports:
  - page p95 with N sockets open against the mean of the runs with 0 open before and after (target: within
    1.5×), and sockets refused or dropped (target 0); --form-logins of the users log in through the form, the
    rest get their session the way the login does (argon2 at production cost is ~0.4 s a login here);
  - a notification created for a connected user reaching its socket: p50/p95/max over --samples (target p95 ≤ 1 s),
    timed from the notify() call (its database write included) to the frame's arrival;
  - the CP pages mixed at 50, 100, 200 connections: throughput, p50/p95/p99, errors, next to the floor.
Exit status 0 only when the three targets are met.
"""

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench import load  # noqa: E402
from bench.client import Session, wait_until_up  # noqa: E402
from bench.paths import HOT_PATHS, Target, load_ids  # noqa: E402
from bench.run import LOGINS, PASSWORD, encryption_keys, free_port, url_builder  # noqa: E402

PAGE_RATIO, NOTIFY_P95_MS = 1.5, 1000.0
CP_PAGES = ("CP kanban board", "CP lead list", "notification badge")
BADGE_COUNT = 'data-count="'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_db = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/leadflow_bench"
    parser.add_argument("--database-url", default=default_db)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--sockets", type=int, default=2000, help="open WebSockets, one distinct user each")
    parser.add_argument("--form-logins", type=int, default=50, help="of them, logged in through the login form")
    parser.add_argument("--samples", type=int, default=200, help="notifications timed to their socket")
    parser.add_argument("--seconds", type=float, default=8, help="page load per measurement")
    parser.add_argument("--connections", type=int, default=4, help="page load connections beside the sockets")
    parser.add_argument("--mix", default="50,100,200", help="connection counts of the mixed CP page load")
    parser.add_argument("--mix-seconds", type=float, default=6)
    parser.add_argument("--page-config", default="gunicorn.conf.py", help="the page tier's gunicorn settings")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--page-port", type=int, default=0, help="0: any free port")
    parser.add_argument("--live-port", type=int, default=0, help="0: any free port")
    return parser.parse_args()


def raise_open_files(sockets: int) -> None:
    """One descriptor per socket on each side (this process and the live tier inherit the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sockets * 2 + 1024
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard)
        )


# --- the two tiers -------------------------------------------------------------------------------------------


@dataclass
class Tiers:
    page_port: int
    live_port: int
    processes: list = field(default_factory=list)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def tier_env(args, page_port: int, live_port: int) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "LEADFLOW_CONFIG": "production",
        "SECRET_KEY": args.secret_key,
        "ENCRYPTION_KEYS": encryption_keys(),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{page_port}",
        "LIVE_SOCKET_URL": f"ws://127.0.0.1:{live_port}/ws/notifications",
        "LIVE_BIND": f"127.0.0.1:{live_port}",
        "BENCH_FLOOR": "1",
        "MFA_REQUIRED_FOR_STAFF": "0",  # the generated staff have no second factor
        "LOGIN_RATE_LIMIT": "100000 per minute",  # thousands of logins from one loopback address
        "LOGIN_ADDRESS_RATE_LIMIT": "100000 per minute",
        "JSON_LOGS": "0",
    }


def start_tiers(args) -> Tiers:
    tiers = Tiers(args.page_port or free_port(), args.live_port or free_port())
    env = tier_env(args, tiers.page_port, tiers.live_port)
    commands = {
        "page": ["gunicorn", "-c", args.page_config, "--bind", f"127.0.0.1:{tiers.page_port}", "wsgi:app"],
        "live": ["gunicorn", "-c", "gunicorn_live.conf.py", "wsgi:app"],
    }
    for name, command in commands.items():
        log = open(args.log_dir / f"leadflow-bench-live-{name}.log", "w")  # noqa: SIM115  (the server's whole run)
        tiers.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", *command],
                cwd=ROOT,
                env=env,
                start_new_session=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        wait_until_up("127.0.0.1", tiers.page_port)
        wait_until_up("127.0.0.1", tiers.live_port)
    except BaseException:
        tiers.stop()
        raise
    return tiers


# --- users and sockets ---------------------------------------------------------------------------------------


def partner_emails(dsn: str, count: int) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id, email FROM users WHERE role = 'channel_partner' AND status = 'active' ORDER BY email LIMIT %s",
            (count,),
        ).fetchall()
    if len(rows) < count:
        raise SystemExit(f"only {len(rows)} active partners: seed more (flask seed-scale --cps {count})")
    return [(str(user_id), email) for user_id, email in rows]


def log_in(port: int, email: str) -> str:
    """The login form as a browser sends it (CSRF token from the page); returns the Cookie header it earned."""
    session = Session("127.0.0.1", port)
    token = session.scrape_csrf(session.request("GET", "/auth/login").text)
    answer = session.request("POST", "/auth/login", {"csrf_token": token, "email": email, "password": PASSWORD})
    if answer.status != 302:
        raise RuntimeError(f"login as {email} failed: HTTP {answer.status}")
    return session.cookie_header()


def log_in_all(port: int, users: list[tuple[str, str]]) -> dict[str, str]:
    """These users log in through the form: user id → its Cookie header."""
    with ThreadPoolExecutor(8) as pool:
        return dict(zip((u[0] for u in users), pool.map(lambda u: log_in(port, u[1]), users), strict=True))


def start_sessions(app, user_ids: list[str]) -> dict[str, str]:
    """What a successful login leaves behind, made directly: a server-side session row and the signed cookie
    naming it (as tests/conftest.py's login does). Argon2 at production cost takes ~0.4 s a login on this shared
    2-core machine, so the form is used for --form-logins users and this for the rest."""
    from app.accounts import sessions
    from app.extensions import db
    from app.models import User

    signer = app.session_interface.get_signing_serializer(app)
    with app.app_context():
        cookies = {}
        for user in db.session.scalars(sa.select(User).where(User.id.in_([uuid.UUID(u) for u in user_ids]))):
            row = sessions.start(user)
            payload = {"_user_id": user.get_id(), "_fresh": True, sessions.SESSION_KEY: str(row.id)}
            cookies[str(user.id)] = f"{app.config['SESSION_COOKIE_NAME']}={signer.dumps(payload)}"
        db.session.commit()
    return cookies


@dataclass
class Live:
    """One open socket: the badge counts it received and when."""

    user_id: str
    ws: object = None
    count: int = -1
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: float = 0.0


class Fleet:
    """N sockets held open by one asyncio loop; counts handshakes refused and sockets closed under us."""

    def __init__(self, url: str, origin: str):
        self.url, self.origin = url, origin
        self.sockets: dict[str, Live] = {}
        self.refused: list[str] = []
        self.dropped: list[str] = []
        self.closing = False
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.tasks: list[asyncio.Task] = []

    async def open_all(self, cookies: dict[str, str], parallel: int = 50) -> float:
        gate = asyncio.Semaphore(parallel)
        started = time.perf_counter()
        await asyncio.gather(*(self._open(user_id, cookie, gate) for user_id, cookie in cookies.items()))
        return time.perf_counter() - started

    async def _open(self, user_id: str, cookie: str, gate) -> None:
        async with gate:
            live = Live(user_id)
            try:
                live.ws = await self.http.ws_connect(
                    self.url,
                    headers={"Cookie": cookie},
                    origin=self.origin,
                    timeout=aiohttp.ClientWSTimeout(ws_close=10),
                )
                await self._receive(live, await live.ws.receive(timeout=60))  # the badge, at once
            except (TimeoutError, aiohttp.ClientError) as exc:
                self.refused.append(f"{type(exc).__name__}: {exc}")
                return
            self.sockets[user_id] = live
            self.tasks.append(asyncio.create_task(self._hold(live)))

    async def _receive(self, live: Live, message) -> None:
        if message.type != aiohttp.WSMsgType.TEXT:
            raise aiohttp.ClientError(f"expected the badge, got {message.type.name}")
        start = message.data.find(BADGE_COUNT) + len(BADGE_COUNT)
        live.count = int(message.data[start : message.data.index('"', start)])
        live.arrived = time.perf_counter()
        live.changed.set()

    async def _hold(self, live: Live) -> None:
        async for message in live.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await self._receive(live, message)
        if not self.closing:
            self.dropped.append(f"{live.user_id}: closed {live.ws.close_code}")

    async def close(self) -> None:
        self.closing = True
        await asyncio.gather(*(live.ws.close() for live in self.sockets.values()), return_exceptions=True)
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.http.close()


# --- measurements --------------------------------------------------------------------------------------------


@dataclass
class Load:
    connections: int
    rps: float
    p50: float
    p95: float
    p99: float
    requests: int
    errors: int


def wrk(base: str, session: Session, target: Target, seconds: float, connections: int) -> Load:
    """bench/load.lua through wrk, keeping its p99 too."""
    env = {**os.environ, "BENCH_METHOD": target.method, "BENCH_PATHS": "\n".join(target.paths), "BENCH_BODIES": "",
           "BENCH_HEADERS": f"Cookie: {session.cookie_header()}"}  # fmt: skip
    threads = min(connections, 8)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(int(seconds), 1)}s", "--timeout", "30s",
               "-s", str(load.HERE / "load.lua"), base + target.paths[0]]  # fmt: skip
    data = load.wrk_report(command, env)
    errors = sum(n for code, n in data["statuses"].items() if not 200 <= int(code) < 300) + data["socket_errors"]
    return Load(connections, data["requests"] / (data["duration_us"] / 1e6), data["p50_us"] / 1000,
                data["p95_us"] / 1000, data["p99_us"] / 1000, data["requests"], errors)  # fmt: skip


def cp_pages(app, dsn: str, session: Session) -> Target:
    """The hot CP pages of bench/paths.py (full pages, no HTMX header) that answer 200 for the largest partner."""
    ids = load_ids(dsn, LOGINS["cp"], LOGINS["cp_small"])
    paths = []
    for spec in HOT_PATHS:
        endpoint = next((e for e in spec.endpoints if e in app.view_functions), None)
        if spec.name in CP_PAGES and endpoint:
            paths += [p for p in spec.build(ids, url_builder(app, endpoint), "big").paths
                      if session.request("GET", p).status == 200]  # fmt: skip
    if not paths:
        raise SystemExit("no CP page answered 200")
    return Target(paths)


def page_process(args):
    """This process as a page process: the production app on the same database and Redis (one per process:
    the Redis handle is process-wide)."""
    from app import create_app

    uri = args.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_app("production", SQLALCHEMY_DATABASE_URI=uri, SECRET_KEY=args.secret_key,
                      ENCRYPTION_KEYS=encryption_keys(), REDIS_URL=args.redis_url)  # fmt: skip


def make_notifier(app):
    """notify() as a page process calls it: a row committed, then a nudge published through Redis."""
    from app.comms import notifications
    from app.extensions import db
    from app.models import User

    def notify(user_id: str) -> None:
        with app.app_context():
            user = db.session.get(User, user_id)
            notifications.notify([user], "lead_assigned", email=False, title="Benchmark lead", link="/cp/")
            db.session.commit()

    return notify


async def notification_latency(fleet: Fleet, notify, samples: int) -> list[float]:
    """Milliseconds from notify() (write and commit included) to the socket's new badge, one user at a time."""
    latencies = []
    for live in random.Random(2026).choices(list(fleet.sockets.values()), k=samples):
        live.changed.clear()
        before, started = live.count, time.perf_counter()
        await asyncio.to_thread(notify, live.user_id)
        try:
            while live.count <= before:
                await asyncio.wait_for(live.changed.wait(), timeout=10)
                live.changed.clear()
        except TimeoutError:
            latencies.append(float("inf"))
            continue
        latencies.append((live.arrived - started) * 1000)
        await asyncio.sleep(0.02)
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# --- the run -------------------------------------------------------------------------------------------------


@dataclass
class Report:
    sockets: int
    opened: int = 0
    open_seconds: float = 0.0
    login_seconds: float = 0.0
    form_logins: int = 0
    refused: int = 0
    dropped: int = 0
    pages_idle: Load | None = None
    pages_open: Load | None = None
    pages_after: Load | None = None
    page_ratio: float = 0.0
    notify_ms: dict = field(default_factory=dict)
    mixed: list = field(default_factory=list)
    failures: list = field(default_factory=list)


async def hold_and_measure(args, tiers: Tiers, report: Report, cookies, session, pages, notify) -> None:
    base = f"http://127.0.0.1:{tiers.page_port}"
    report.pages_idle = await asyncio.to_thread(wrk, base, session, pages, args.seconds, args.connections)
    fleet = Fleet(f"ws://127.0.0.1:{tiers.live_port}/ws/notifications", base)
    try:
        report.open_seconds = await fleet.open_all(cookies)
        report.opened = len(fleet.sockets)
        report.pages_open = await asyncio.to_thread(wrk, base, session, pages, args.seconds, args.connections)
        latencies = await notification_latency(fleet, notify, args.samples) if fleet.sockets else []
        if latencies:
            report.notify_ms = {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
                                "max": max(latencies), "samples": len(latencies)}  # fmt: skip
        await asyncio.sleep(1)  # a socket dropped at the very end still counts
    finally:
        report.refused, report.dropped = len(fleet.refused), len(fleet.dropped)
        for reason in (fleet.refused + fleet.dropped)[:5]:
            print(f"  socket problem: {reason}")
        await fleet.close()
    report.pages_after = await asyncio.to_thread(wrk, base, session, pages, args.seconds, args.connections)


def mixed_load(args, tiers: Tiers, session: Session, pages: Target) -> list[dict]:
    base = f"http://127.0.0.1:{tiers.page_port}"
    rows = []
    for connections in (int(c) for c in args.mix.split(",")):
        page = wrk(base, session, pages, args.mix_seconds, connections)
        floor = wrk(base, session, Target(["/bench/floor"]), max(args.mix_seconds / 2, 2), connections)
        rows.append({"pages": page, "floor": floor})
    return rows


def judge(report: Report) -> None:
    """The held p95 is compared with the mean of the idle runs before and after it (this machine is shared)."""
    if report.pages_idle and report.pages_open and report.pages_after:
        idle = (report.pages_idle.p95 + report.pages_after.p95) / 2
        report.page_ratio = report.pages_open.p95 / max(idle, 0.001)
        if report.page_ratio > PAGE_RATIO:
            report.failures.append(f"page p95 {report.pages_open.p95:.1f} ms > {PAGE_RATIO}× {idle:.1f}")
    if report.refused or report.dropped or report.opened < report.sockets:
        report.failures.append(f"{report.refused} refused, {report.dropped} dropped of {report.sockets}")
    if not report.notify_ms or report.notify_ms["p95"] > NOTIFY_P95_MS:
        report.failures.append(f"notification p95 {report.notify_ms.get('p95', float('inf')):.0f} ms > 1000")


def _line(load: Load) -> str:
    return f"{load.rps:>8.0f} {load.p50:>7.1f} {load.p95:>7.1f} {load.p99:>7.1f} {load.errors:>4}"


def print_report(args, report: Report) -> None:
    r = report
    print(f"\nLive tier: {r.opened:,}/{r.sockets:,} sockets open, one distinct user each ({r.form_logins} logged in "
          f"through the form; sessions ready in {r.login_seconds:.0f} s, sockets opened in {r.open_seconds:.1f} s): "
          f"{r.refused} refused, {r.dropped} dropped")  # fmt: skip
    if r.pages_idle and r.pages_open:
        print(f"CP pages at {args.connections} connections: p95 {r.pages_idle.p95:.1f} ms with 0 sockets open, "
              f"{r.pages_open.p95:.1f} ms with {r.opened:,} open ({r.page_ratio:.2f}×; target ≤ {PAGE_RATIO}×), "
              f"{r.pages_after.p95:.1f} ms after they closed")  # fmt: skip
        print(f"{'':>19}{'req/s':>8} {'p50':>7} {'p95':>7} {'p99':>7} {'err':>4}")
        for name, load in (("0 sockets", r.pages_idle), (f"{r.opened:,} sockets", r.pages_open),
                           ("0 sockets (after)", r.pages_after)):  # fmt: skip
            print(f"  {name:<17}{_line(load)}")
    if r.notify_ms:
        n = r.notify_ms
        print(f"Notification → socket: p50 {n['p50']:.0f} ms, p95 {n['p95']:.0f} ms, max {n['max']:.0f} ms "
              f"over {n['samples']} (target p95 ≤ {NOTIFY_P95_MS:.0f} ms)")  # fmt: skip
    columns = f"{'p50':>7} {'p95':>7} {'p99':>7} {'err':>4}"
    print("\nMixed CP pages next to the floor (req/s, ms)")
    print(f"{'conns':>5} | {'pages':>8} {columns} | {'floor':>8} {columns}")
    for row in r.mixed:
        print(f"{row['pages'].connections:>5} | {_line(row['pages'])} | {_line(row['floor'])}")
    print("\nPASS" if not r.failures else "\nFAIL: " + "; ".join(r.failures))


def main() -> int:
    args = parse_args()
    args.secret_key = secrets.token_hex(32)
    raise_open_files(args.sockets)
    dsn = args.database_url.replace("+psycopg", "")
    users = partner_emails(dsn, args.sockets)
    tiers = start_tiers(args)
    report = Report(args.sockets)
    try:
        app = page_process(args)
        session = Session("127.0.0.1", tiers.page_port).login(LOGINS["cp"], PASSWORD)
        pages = cp_pages(app, dsn, session)
        started = time.perf_counter()
        cookies = log_in_all(tiers.page_port, users[: args.form_logins])
        cookies.update(start_sessions(app, [user_id for user_id, _ in users[args.form_logins :]]))
        report.form_logins = min(args.form_logins, len(users))
        report.login_seconds = time.perf_counter() - started
        wrk(f"http://127.0.0.1:{tiers.page_port}", session, pages, 2, args.connections)  # warm-up
        asyncio.run(hold_and_measure(args, tiers, report, cookies, session, pages, make_notifier(app)))
        report.mixed = mixed_load(args, tiers, session, pages)
    finally:
        tiers.stop()
    judge(report)
    print_report(args, report)
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2, default=str))
    return 0 if not report.failures else 1


if __name__ == "__main__":
    sys.exit(main())
