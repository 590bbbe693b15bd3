"""The API benchmark (issue 19) against PostgreSQL at the seed-scale size (1,000,000 leads):

    python bench/api.py [--database-url postgresql://...] [--only post,deep] [--json F]

- POST /api/v1/leads with the largest partner's API key (leads:read, leads:write; not a trusted supplier, so each
  lead waits for its contact's confirmation, whose email is queued): a fresh contact and its own Idempotency-Key
  per request, the whole intake behind it. Compared with the POST floor.
- GET /api/v1/leads: the first page, and deep cursor pages (around row 900,000 of all leads for staff, row 3,000
  of the largest partner's 3,266), with an admin's access token (from POST /api/v1/auth/token) and with the
  largest partner's API key. Compared with the GET floor.
Each path is measured in rounds, each round just after a run of its floor, as bench/run.py does; a path's figure
is the median over the rounds of its p95 over the floor's p95, and must be ≤ 3. The SQL statements per request
(X-Query-Count) are printed and must not grow with the data: the same on a first and a deep page, and for the
largest and a median partner, and at most MAX_QUERIES. The benchmark's keys, token, idempotency keys and leads are
deleted again. Exit status 0 only when every target is met.
"""

import argparse
import http.client
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import intake_data, load  # noqa: E402
from bench.client import Response, Session, wait_until_up  # noqa: E402
from bench.paths import Target  # noqa: E402
from bench.run import LOGINS, PASSWORD, Row, build_app, encryption_keys, finish, free_port  # noqa: E402

RATIO, MAX_QUERIES = 3.0, 25  # a sanity bound; the real check: the count does not grow with the data
DOMAIN = "api-bench.example.com"  # every lead the benchmark posts has a contact here, and is deleted by it
STAFF_DEPTH, PARTNER_DEPTH, CURSORS = 900_000, 3_000, 8
PARTNER_INDEXES = ("ix_leads_assignee_created", "ix_leads_originated_created")
REDIS_DB_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")  # rate limits and queued emails


@dataclass
class ApiPath:
    """A measured request: its paths (taken in turn), credentials, JSON body template, and the floor it is
    compared with; `twin` is the same request for the query-count comparison (a median partner, a first page)."""

    name: str
    paths: list[str]
    headers: dict
    twin: tuple[list[str], dict]
    body: str = ""
    kind: str = "read"
    rounds: list = field(default_factory=list)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_db = os.environ.get("DATABASE_URL") or "postgresql://leadflow@127.0.0.1:5432/leadflow_bench"
    parser.add_argument("--database-url", default=default_db)
    parser.add_argument(
        "--only", help="comma-separated words: only paths whose name contains one (post, first, deep, admin, partner)"
    )
    parser.add_argument("--seconds", type=float, default=3, help="seconds per path and round (its floor: half, ≥ 2)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds over all paths; each figure is their median")
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--connections", type=int, default=2, help="concurrent loopback connections (one per core)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (one per core)")
    parser.add_argument("--category", default="solar-panels", help="the category slug the posted leads are in")
    parser.add_argument("--keep", action="store_true", help="keep the leads the benchmark created")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--server-log", type=Path, default=Path("/tmp/leadflow-bench-api-server.log"))
    return parser.parse_args()


def start_server(args, port: int) -> subprocess.Popen:
    """gunicorn as bench/run.py starts it (floor, query counts), with Redis for the rate limits and the queued
    confirmation emails, limits no run reaches, and access tokens that outlive the run."""
    env = {**os.environ, "DATABASE_URL": args.database_url, "LEADFLOW_CONFIG": "production",
           "SECRET_KEY": secrets.token_hex(32), "ENCRYPTION_KEYS": encryption_keys(), "BENCH_FLOOR": "1",
           "BENCH_QUERY_COUNT": "1", "JSON_LOGS": "0", "MFA_REQUIRED_FOR_STAFF": "0", "REDIS_URL": REDIS_DB_URL,
           "API_RATE_LIMIT": "1000000 per minute", "API_ACCESS_TOKEN_SECONDS": "7200"}  # fmt: skip
    command = [sys.executable, "-m", "gunicorn", "--worker-class", "sync", "--workers", str(args.workers),
               "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "600", "wsgi:app"]  # fmt: skip
    log = open(args.server_log, "w")  # noqa: SIM115  (gunicorn writes to it for the whole run)
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)


def call(port: int, method: str, path: str, headers: dict, body: str | None = None) -> Response:
    """One API request (JSON in and out; bench.client.Session speaks forms)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    sent = {"Accept": "application/json", **headers, **({"Content-Type": "application/json"} if body else {})}
    started = time.perf_counter()
    conn.request(method, path, body=body, headers=sent)
    raw = conn.getresponse()
    payload = raw.read()
    conn.close()
    return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, payload, time.perf_counter() - started)


# --- what the benchmark needs in the database: keys, a category, cursors ----------------------------------------


class Fixtures:
    """API keys for the largest and a median partner, the category, deep cursors; removed again by `clean`."""

    def __init__(self, app, args, run: str):
        import sqlalchemy as sa

        from app.accounts import api_keys
        from app.api.pagination import encode_cursor
        from app.extensions import db
        from app.models import Category, Lead, User

        self.app, self.run = app, run
        with app.app_context():
            users = {role: db.session.scalar(sa.select(User).where(User.email == LOGINS[role])) for role in LOGINS}
            self.key_ids, self.keys = [], {}
            for role in ("cp", "cp_small"):
                key, secret = api_keys.create(users[role], f"bench api {run}", ["leads:read", "leads:write"])
                self.key_ids.append(key.id)
                self.keys[role] = secret
            db.session.commit()
            self.category_id = str(db.session.scalar(sa.select(Category.id).where(Category.slug == args.category)))
            order = (Lead.created_at.desc(), Lead.id.desc())

            def rows_at(where, depth: int, count: int, step: int) -> list[tuple]:
                stmt = sa.select(Lead.created_at, Lead.id).where(where).order_by(*order).offset(depth)
                return [tuple(row) for row in db.session.execute(stmt.limit(count * step)).all()[::step]]

            def theirs(role: str):
                partner = users[role].partner.id
                return sa.or_(Lead.allocated_to == partner, Lead.originated_by == partner)

            self.deep_rows = {
                "staff": rows_at(sa.true(), STAFF_DEPTH, CURSORS, 1000),
                "cp": rows_at(theirs("cp"), PARTNER_DEPTH, CURSORS, 25),
                "cp_small": rows_at(theirs("cp_small"), 25, 1, 1),
            }
            self.cursors = {who: [encode_cursor(*row) for row in rows] for who, rows in self.deep_rows.items()}
            self.partner_user_id = users["cp"].id
            db.session.rollback()

    def clean(self, keep_leads: bool) -> str:
        import sqlalchemy as sa

        from app.extensions import db
        from app.models import ApiKey, IdempotencyKey, Lead

        gone = 0
        if not keep_leads:
            gone = intake_data.delete_leads(self.app, Lead.email_normalized.like(f"%@{DOMAIN}"))
        with self.app.app_context():
            db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.key.like(f"{self.run}-%")))
            db.session.execute(sa.delete(ApiKey).where(ApiKey.id.in_(self.key_ids)))
            db.session.commit()
        return f"{gone:,} posted leads, the keys and the idempotency keys deleted"


def partner_plans(fixtures: Fixtures) -> Row:
    """EXPLAIN ANALYZE of the largest partner's first and deep page as the API runs them: each half of "allocated
    to or originated by" must be read from its own index in (created_at, id) order (app/leads/feed.py)."""
    from app.api.pagination import page_statement
    from app.extensions import db
    from app.leads import feed
    from app.models import Lead, User

    row = Row("partner page plans", target="each half from its index")
    used, lines = set(), []
    with fixtures.app.app_context():
        parts, values = feed.statement(db.session.get(User, fixtures.partner_user_id), {})
        for after in (False, True):
            binds = {**values, "page_size": 26}
            if after:
                binds["after_created"], binds["after_id"] = fixtures.deep_rows["cp"][0]
            compiled = page_statement(parts, Lead, after).params(**binds).compile(dialect=db.engine.dialect)
            answer = db.session.connection().exec_driver_sql("EXPLAIN ANALYZE " + str(compiled), compiled.params)
            plan = [line for (line,) in answer]
            lines += [f"    {'deep' if after else 'first'}: {line}" for line in plan]
            used |= {name for name in PARTNER_INDEXES if any(name in line for line in plan)}
            row.p95 = max(row.p95, float(plan[-1].split(":")[1].split()[0]))  # Execution Time
        db.session.rollback()
    print("\n".join(lines), flush=True)
    row.verdict = "PASS" if used == set(PARTNER_INDEXES) else "FAIL"
    row.note = f"execution ≤ {row.p95:.2f} ms; indexes used: {', '.join(sorted(used)) or 'NONE'}"
    if row.verdict == "FAIL":
        row.note += f" (needs {', '.join(sorted(set(PARTNER_INDEXES) - used))})"
    return row


def token_pair(port: int) -> dict:
    """An admin's access token, the way an integrator gets one."""
    body = json.dumps({"email": LOGINS["admin"], "password": PASSWORD})
    answer = call(port, "POST", "/api/v1/auth/token", {}, body)
    if answer.status != 200:
        raise RuntimeError(f"POST /api/v1/auth/token answered {answer.status}: {answer.text[:300]}")
    return json.loads(answer.body)


def lead_body(category_id: str) -> str:
    """The JSON a supplier posts; {n} and {phone} are filled per request by api.lua (and by the probe)."""
    return json.dumps({"category_id": category_id, "title": "Rooftop solar for a warehouse", "first_name": "Api",
                       "last_name": "Prospect {n}", "contact_email": f"prospect.{{n}}@{DOMAIN}",
                       "contact_phone": "{phone}", "contact_company": "Bench Logistics", "job_title": "Facilities",
                       "description": "Wants a quote for 400 m2 of roof.", "lead_type": "business",
                       "budget": "5k_25k", "timeline": "quarter"})  # fmt: skip


def api_paths(fixtures: Fixtures, token: str, wanted: list[str]) -> list[ApiPath]:
    leads = "/api/v1/leads"
    admin, cp, small = (
        {"Authorization": f"Bearer {token}"},
        {"X-API-Key": fixtures.keys["cp"]},
        {"X-API-Key": fixtures.keys["cp_small"]},
    )
    deep = {role: [f"{leads}?cursor={cursor}" for cursor in found] for role, found in fixtures.cursors.items()}
    paths = [
        ApiPath("POST lead (partner key)", [leads], cp, ([leads], small), lead_body(fixtures.category_id), "write"),
        ApiPath("GET first page (admin token)", [leads], admin, ([leads], admin)),
        ApiPath("GET deep page (admin token)", deep["staff"], admin, ([leads], admin)),
        ApiPath("GET first page (partner key)", [leads], cp, ([leads], small)),
        ApiPath("GET deep page (partner key)", deep["cp"], cp, (deep["cp_small"], small)),
    ]
    return [p for p in paths if not wanted or any(w in p.name.lower() for w in wanted)]


# --- measuring -------------------------------------------------------------------------------------------------


def run_wrk(wrk: str, base: str, path: ApiPath, seconds: float, connections: int, run: str) -> load.Result:
    env = {**os.environ, "BENCH_METHOD": "POST" if path.body else "GET", "BENCH_PATHS": "\n".join(path.paths),
           "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in path.headers.items()), "BENCH_BODY": path.body,
           "BENCH_RUN": run}  # fmt: skip
    command = [wrk, f"-t{connections}", f"-c{connections}", f"-d{max(int(seconds), 1)}s", "--timeout", "30s"]
    return load.result_of(load.wrk_report([*command, "-s", str(ROOT / "bench" / "api.lua"), base + path.paths[0]], env))


def probe(port: int, path: ApiPath, run: str) -> Row:
    """The path's row with its query counts (this request / its twin), or the refusal that stops it."""
    row = Row(path.name, target=f"p95 ≤ {RATIO:g}× {'POST' if path.body else 'GET'} floor, queries flat")
    counts, pages = [], []
    for n, (paths, headers) in enumerate(((path.paths, path.headers), path.twin)):
        body = path.body.replace("{n}", f"{run}-probe{n}").replace("{phone}", f"+1 415 899 {9000 + n}")
        extra = {"Idempotency-Key": f"{run}-probe-{n}"} if body else {}
        answer = call(port, "POST" if body else "GET", paths[0], {**headers, **extra}, body or None)
        if not 200 <= answer.status < 300:
            row.note = f"probe answered HTTP {answer.status}: {answer.text[:300]}"
            return row
        counts.append(int(answer.headers.get("x-query-count", -1)))
        pages.append(len(json.loads(answer.body).get("data", [])) if not body else 1)
    row.queries = "/".join(str(c) for c in counts)
    if counts[0] != counts[1] or max(counts) > MAX_QUERIES or -1 in counts:
        row.note = f"queries {counts[0]} vs {counts[1]} (twin), at most {MAX_QUERIES}"
    elif not path.body and pages[0] != 25:
        row.note = f"the page had {pages[0]} rows, not 25"
    return row


def judge(row: Row, path: ApiPath) -> None:
    paths, floors = [p for _, p in path.rounds], [f for f, _ in path.rounds]
    row.p50 = statistics.median(r.p50_ms for r in paths)
    row.p95 = statistics.median(r.p95_ms for r in paths)
    row.rps = statistics.median(r.rps for r in paths)
    row.floor_p95 = statistics.median(f.p95_ms for f in floors)
    row.ratio = statistics.median(p.p95_ms / max(f.p95_ms, 0.001) for f, p in path.rounds)
    problems = [row.note] if row.note else []
    if row.ratio > RATIO:
        problems.append(f"ratio {row.ratio:.2f} > {RATIO:g}")
    bad = sum(p.bad for p in paths)
    if bad or not any(p.requests for p in paths):
        statuses = {}
        for p in paths:
            for code, count in p.statuses.items():
                statuses[code] = statuses.get(code, 0) + count
        problems.append(f"{bad} bad responses of {sum(p.requests for p in paths)}: {statuses}")
    detail = "rounds p95/floor: " + ", ".join(f"{p.p95_ms:.1f}/{f.p95_ms:.1f}" for f, p in path.rounds)
    row.verdict, row.note = ("FAIL" if problems else "PASS"), "; ".join([*problems, detail])


def measure(args, port: int, paths: list[ApiPath], run: str) -> list[Row]:
    wrk, base = load.ensure_wrk(), f"http://127.0.0.1:{port}"
    if wrk is None:
        return [Row(p.name, note="wrk is needed (apt-get install wrk)") for p in paths]
    floor_session = Session("127.0.0.1", port).login(LOGINS["cp"], PASSWORD)
    floors = {"read": Target(["/bench/floor"]), "write": Target(["/bench/floor"], method="POST", bodies=["x=1"])}
    for headers in {json.dumps(h, sort_keys=True) for p in paths for h in (p.headers, p.twin[1])}:
        call(port, "GET", "/api/v1/auth/me", json.loads(headers))  # a key's use is written once a minute: now
    probed = [(path, probe(port, path, run)) for path in paths]
    measured = [(path, row) for path, row in probed if row.queries]  # a refused probe: nothing to measure
    for n in range(args.rounds):
        for path, _row in measured:
            if n == 0 and args.warmup:
                run_wrk(wrk, base, path, args.warmup, args.connections, f"{run}-w")
            floor = load.run_wrk(wrk, base, floor_session, floors[path.kind], max(args.seconds / 2, 2),
                                 args.connections)  # fmt: skip
            result = run_wrk(wrk, base, path, args.seconds, args.connections, f"{run}-r{n}")
            path.rounds.append((floor, result))
            print(f"  round {n + 1}/{args.rounds}: {path.name}: p95 {result.p95_ms:.1f} ms, floor "
                  f"{floor.p95_ms:.1f} ms, {result.requests} requests", flush=True)  # fmt: skip
    for path, row in measured:
        judge(row, path)
    return [row for _path, row in probed]


def print_table(rows: list[Row]) -> None:
    head = (
        f"{'path':<30} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'queries':>8} {'floor p95':>10} {'ratio':>6}  result"
    )
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        print(f"{r.path:<30} {r.p50:8.1f} {r.p95:8.1f} {r.rps:8.1f} {r.queries:>8} {r.floor_p95:10.1f} "
              f"{r.ratio:6.2f}  {r.verdict}{'  ' + r.note if r.note else ''}")  # fmt: skip
    print("\nqueries = SQL statements per request: this request / its twin (a median partner's key; for the admin's")
    print("deep page, the first page). The floor: GET or POST /bench/floor of the same run (bench/run.py).")


def main() -> int:
    args = parse_args()
    wanted = [w.strip().lower() for w in (args.only or "").split(",") if w.strip()]
    run = f"apibench-{secrets.token_hex(4)}"
    app = build_app(args.database_url)
    started = time.perf_counter()
    fixtures = Fixtures(app, args, run)
    plans = partner_plans(fixtures)
    port = free_port()
    server = start_server(args, port)
    rows, pair = [], None
    try:
        wait_until_up("127.0.0.1", port)
        pair = token_pair(port)
        print(f"gunicorn sync {args.workers} on 127.0.0.1:{port}; wrk, {args.connections} connections, "
              f"{args.seconds:g} s/path, {args.rounds} rounds", flush=True)  # fmt: skip
        rows = measure(args, port, api_paths(fixtures, pair["access_token"], wanted), run)
    finally:
        if pair is not None:
            call(port, "POST", "/api/v1/auth/revoke", {}, json.dumps({"refresh_token": pair["refresh_token"]}))
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        said = fixtures.clean(args.keep)
        import redis

        redis.Redis.from_url(REDIS_DB_URL).flushdb()  # the benchmark's own database: limits, queued emails
        print(f"{said} ({time.perf_counter() - started:.0f} s in all)")
    rows.append(plans)
    print_table(rows)
    return finish(rows, args.json)


if __name__ == "__main__":
    sys.exit(main())
