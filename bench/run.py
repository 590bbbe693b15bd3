"""The benchmark: every hot path next to a floor measured in the same run, on loopback, against PostgreSQL.

    python bench/run.py [--seconds 10] [--connections 4] [--database-url postgresql://...]

Load the data first with `flask --app wsgi.py seed-scale`. See the README's performance section.
Exit status 0 only when every target is met (a hot path whose endpoint does not exist counts as missed).
"""

import argparse
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import exports, load  # noqa: E402
from bench.client import Session, wait_until_up  # noqa: E402
from bench.paths import CSV_EXPORTS, HOT_PATHS, MOVE_STAGES, PDF_EXPORTS, Target, load_ids  # noqa: E402

PASSWORD = "bench-pass-2026"  # noqa: S105  (the seed-scale benchmark login)
LOGINS = {
    "super": "bench-super@scale.test",
    "admin": "bench-admin@scale.test",
    "cp": "bench-cp@scale.test",
    "cp_small": "bench-cp-small@scale.test",
}
# Production refuses to run two workers without Redis (#21); the benchmark uses a database of its own.
REDIS_DB_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
ABSOLUTE_P95_MS = 150.0
MAX_QUERIES = 25  # a sanity bound; the real check is that the count does not grow with the data
CSV_MIN_SHARE, CSV_MAX_MB = 0.5, 150.0
MIN_SAMPLES = 10  # answers per path, at least


@dataclass
class Round:
    floor: load.Result
    path: load.Result


@dataclass
class Row:
    path: str
    p50: float = 0.0
    p95: float = 0.0
    rps: float = 0.0
    queries: str = ""
    floor_p95: float = 0.0
    ratio: float = 0.0
    target: str = ""
    verdict: str = "FAIL"
    note: str = ""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_db = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/leadflow_bench"
    parser.add_argument("--database-url", default=default_db)
    parser.add_argument(
        "--seconds", type=float, default=3, help="seconds per path and round (its floor run: half, at least 2)"
    )
    parser.add_argument("--rounds", type=int, default=7, help="rounds over all paths; each figure is their median")
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--connections", type=int, default=2, help="concurrent loopback connections (one per core)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (one per core)")
    parser.add_argument(
        "--worker-class",
        default="sync",
        help="gunicorn worker class: sync (default: each connection goes to an idle worker) or gthread",
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--pdf-rows", type=int, default=10_000)
    parser.add_argument(
        "--only", help="comma-separated words: only hot paths whose name contains one (csv, pdf: exports)"
    )
    parser.add_argument("--skip-exports", action="store_true")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--server-log", type=Path, default=Path("/tmp/leadflow-bench-server.log"))
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def encryption_keys() -> str:
    """The keys `flask seed-scale` encrypted the bank numbers with: ENCRYPTION_KEYS, else the development key."""
    from app.crypto import configured_keys
    from config import DevelopmentConfig

    dev = {"ENCRYPTION_KEYS": DevelopmentConfig.ENCRYPTION_KEYS, "SECRET_KEY": DevelopmentConfig.SECRET_KEY}
    return ",".join(configured_keys(dev))


def start_server(args, port: int) -> tuple[subprocess.Popen, subprocess.Popen]:
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "LEADFLOW_CONFIG": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "ENCRYPTION_KEYS": encryption_keys(),
        "BENCH_FLOOR": "1",
        "BENCH_QUERY_COUNT": "1",
        "JSON_LOGS": "0",
        "MFA_REQUIRED_FOR_STAFF": "0",  # the generated staff have no second factor; the pages are what is measured
        "REDIS_URL": REDIS_DB_URL,  # login limits and the live badge as in production; the paths enqueue no job
    }
    command = [sys.executable, "-m", "gunicorn", "--worker-class", args.worker_class, "--workers", str(args.workers),
               "--threads", str(args.threads), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
               "--timeout", "600", "wsgi:app"]  # fmt: skip
    log = open(args.server_log, "w")  # noqa: SIM115  (gunicorn and the job worker write to it for the whole run)
    # The job worker builds the large PDF report (more rows than REPORT_PDF_JOB_THRESHOLD), as in production.
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                              start_new_session=True, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    return server, worker


def build_app(database_url: str):
    from app import create_app

    uri = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_app(
        "production", SQLALCHEMY_DATABASE_URI=uri, SECRET_KEY=secrets.token_hex(32), ENCRYPTION_KEYS=encryption_keys()
    )


def url_builder(app, endpoint: str):
    from flask import url_for

    def url(**values) -> str:
        with app.test_request_context():
            return url_for(endpoint, **values)

    return url


def query_count(session: Session, target: Target) -> tuple[int | None, int]:
    if target.moves:  # one real drag: the first lead to the next stage of the cycle
        lead_id, version, stage = target.moves[0].split(":")
        column = target.paths[(MOVE_STAGES.index(stage) + 1) % len(MOVE_STAGES)]
        answer = session.request("POST", column, f"card={lead_id}:{version}", target.headers)
    else:
        answer = session.request(target.method, target.paths[0], None, target.headers)
    count = answer.headers.get("x-query-count")
    return (int(count) if count is not None else None), answer.status


class Bench:
    def __init__(self, args, port: int, server: subprocess.Popen):
        self.args, self.port, self.server = args, port, server
        self.base = f"http://127.0.0.1:{port}"
        self.wrk = load.ensure_wrk()
        self.sessions = {role: Session("127.0.0.1", port).login(email, PASSWORD) for role, email in LOGINS.items()}
        self.dsn = args.database_url.replace("+psycopg", "")
        self.app = build_app(args.database_url)
        self.rows: list[Row] = []

    def ids(self):
        return load_ids(self.dsn, LOGINS["cp"], LOGINS["cp_small"])

    def _drive(self, session, target, seconds):
        if target.moves:  # earlier requests moved the leads on: start from their current versions and stages
            target = self.refresh_moves(target)
        if self.wrk:
            result = load.run_wrk(self.wrk, self.base, session, target, seconds, self.args.connections)
            if result.requests >= MIN_SAMPLES:
                return result
            target = self.refresh_moves(target) if target.moves else target
        # No wrk, or a page so slow that wrk's run saw too few answers: the threaded client waits for them.
        return load.run_threads(session, target, seconds, self.args.connections, MIN_SAMPLES)

    def refresh_moves(self, target: Target) -> Target:
        ids = self.ids()
        fresh = {str(lead_id): f"{lead_id}:{version}:{stage}" for lead_id, version, stage in ids.big_leads}
        moves = [fresh[m.split(":")[0]] for m in target.moves if m.split(":")[0] in fresh]
        return Target(target.paths, target.method, target.bodies, target.headers, moves)

    def floor(self, kind: str) -> load.Result:
        """One run of the floor of this kind (two connections of it, as the path gets): taken just before each
        round of a path, so that the two see the same spell of this shared machine."""
        target = Target(["/bench/floor"]) if kind == "read" else Target(["/bench/floor"], method="POST", bodies=["x=1"])
        return self._drive(self.sessions["cp"], target, max(self.args.seconds / 2, 2))

    def probe(self, spec, ids) -> tuple[Row, Target | None]:
        """The path's row with its query counts (the largest and a median partner), and the request to load it
        with; no request when the app has no such endpoint or the probe was refused."""
        row = Row(spec.name)
        endpoint = next((e for e in spec.endpoints if e in self.app.view_functions), None)
        if endpoint is None:
            row.verdict, row.note = "MISSING", f"no endpoint {' / '.join(spec.endpoints)}"
            return row, None
        url = url_builder(self.app, endpoint)
        big, small = spec.build(ids, url, "big"), spec.build(ids, url, "small")
        twin = self.sessions["cp_small"] if spec.role == "cp" else self.sessions[spec.role]
        (q_big, status), (q_small, _) = query_count(self.sessions[spec.role], big), query_count(twin, small)
        row.queries = f"{q_big}/{q_small}"
        row.target = f"≤{spec.ratio:g}× {spec.kind} floor, ≤{ABSOLUTE_P95_MS:g} ms, queries flat"
        if not 200 <= status < 300:
            row.note = f"probe answered HTTP {status}"
            return row, None
        if q_big is None or q_big != q_small or q_big > MAX_QUERIES:
            row.note = f"queries {q_big} (large) vs {q_small} (small)"
        return row, big

    def measure_round(self, spec, target: Target, first: bool) -> Round:
        """One round of a path: its floor, then the path (the first round warms the path up before both)."""
        session = self.sessions[spec.role]
        if first and self.args.warmup:
            self._drive(session, target, self.args.warmup)
        return Round(self.floor(spec.kind), self._drive(session, target, self.args.seconds))

    def judge(self, row: Row, spec, rounds: list[Round]) -> None:
        """Each round compares the path's p95 with the p95 of the floor run just before it; the path's figures and
        its ratio are the medians over the rounds, so a spell of machine noise spoils a round, not the result."""
        paths = [r.path for r in rounds]
        row.p50 = statistics.median(r.p50_ms for r in paths)
        row.p95 = statistics.median(r.p95_ms for r in paths)
        row.rps = statistics.median(r.rps for r in paths)
        row.floor_p95 = statistics.median(r.floor.p95_ms for r in rounds)
        row.ratio = statistics.median(r.path.p95_ms / max(r.floor.p95_ms, 0.001) for r in rounds)
        problems = [row.note] if row.note else []
        if row.ratio > spec.ratio:
            problems.append(f"ratio {row.ratio:.1f} > {spec.ratio:g}")
        if row.p95 > ABSOLUTE_P95_MS:
            problems.append(f"p95 {row.p95:.0f} ms > {ABSOLUTE_P95_MS:g}")
        if not any(r.requests for r in paths):
            problems.append("no request completed")
        if any(r.bad for r in paths):
            statuses = Counter()
            for r in paths:
                statuses.update(r.statuses)
            problems.append(f"{sum(r.bad for r in paths)} bad responses {dict(statuses)}")
        detail = "rounds p95/floor: " + ", ".join(f"{r.path.p95_ms:.1f}/{r.floor.p95_ms:.1f}" for r in rounds)
        row.verdict, row.note = ("FAIL" if problems else "PASS"), "; ".join([*problems, detail])

    def csv_export(self) -> Row:
        row = Row("CSV export (rows/s)")
        endpoint = next((e for e in CSV_EXPORTS if e in self.app.view_functions), None)
        if endpoint is None:
            row.verdict, row.note = "MISSING", "no CSV export endpoint"
            return row
        path = url_builder(self.app, endpoint)()
        rows, seconds, peak, before = exports.stream_csv(self.sessions["super"], path, self.server.pid)
        base_rows, base_seconds = exports.baseline_csv(self.dsn, exports.report_sql(self.app))
        rate, base_rate = rows / seconds, base_rows / base_seconds
        row.p50, row.rps, row.floor_p95, row.ratio = seconds * 1000, rate, base_rate, rate / base_rate
        row.queries = f"{rows:,} rows"
        row.target = f"≥{CSV_MIN_SHARE:.0%} of baseline rows/s, peak RSS <{CSV_MAX_MB:g} MB"
        row.note = (
            f"peak worker RSS {peak:.0f} MB (before {before:.0f}); baseline {base_rows:,} rows, {base_seconds:.1f} s"
        )
        ok = row.ratio >= CSV_MIN_SHARE and peak < CSV_MAX_MB and rows == base_rows
        row.verdict = "PASS" if ok else "FAIL"
        return row

    def pdf_export(self) -> Row:
        row = Row(f"PDF {self.args.pdf_rows:,} rows (s)")
        endpoint = next((e for e in PDF_EXPORTS if e in self.app.view_functions), None)
        if endpoint is None:
            row.verdict, row.note = "MISSING", "no PDF export endpoint"
            return row
        filters = exports.pdf_filters(self.dsn, self.args.pdf_rows)
        form = {"date_from": filters["date_from"].isoformat(), "category": str(filters["category_id"])}
        seconds, answer = self.fetch_pdf(url_builder(self.app, endpoint)(), form)
        base_rows, base_seconds = exports.baseline_pdf(self.dsn, exports.report_sql(self.app, **filters))
        row.p50, row.floor_p95, row.ratio = seconds * 1000, base_seconds * 1000, seconds / base_seconds
        row.queries = f"{base_rows:,} rows"
        row.target = "PDF answered; seconds vs plain reportlab"
        is_pdf = answer.status == 200 and answer.body.startswith(b"%PDF")
        row.verdict = "PASS" if is_pdf else "FAIL"
        row.note = f"{len(answer.body) / 1e6:.1f} MB" if is_pdf else f"HTTP {answer.status}"
        return row

    def fetch_pdf(self, url: str, form: dict):
        """POST the export form; a large report is built by a job (the worker) and then downloaded."""
        session = self.sessions["super"]
        started = time.perf_counter()
        answer = session.request("POST", url, form)
        for _ in range(600):
            if answer.status == 200 and answer.body.startswith(b"%PDF"):
                break
            if answer.status in (302, 303):
                answer = session.request("GET", answer.headers["location"])
                continue
            link = re.search(r'href="(/files/[^"]+)"', answer.text)
            if link:
                answer = session.request("GET", link.group(1))
                continue
            time.sleep(0.5)
            answer = session.request("GET", url_builder(self.app, "superadmin.report_export")(**self.export_id(answer)))
        return time.perf_counter() - started, answer

    def export_id(self, answer) -> dict:
        match = re.search(r"/super/reports/exports/([0-9a-f-]{36})", answer.text)
        if match is None:
            raise RuntimeError(f"no PDF and no export to wait for (HTTP {answer.status})")
        return {"export_id": match.group(1)}

    def run(self) -> list[Row]:
        ids = self.ids()
        wanted = [w.strip().lower() for w in (self.args.only or "").split(",") if w.strip()]
        specs = [s for s in HOT_PATHS if not wanted or any(w in s.name.lower() for w in wanted)]
        exported = []
        if not self.args.skip_exports:
            for name, measure in (("csv", self.csv_export), ("pdf", self.pdf_export)):
                if not wanted or name in wanted:
                    exported.append(measure())
        if wanted and not specs:
            return exported
        probed = [(spec, *self.probe(spec, ids)) for spec in specs]
        self.rows = [row for _spec, row, _target in probed]
        measured = [(spec, row, target) for spec, row, target in probed if target is not None]
        rounds = {spec.name: [] for spec, _row, _target in measured}
        for n in range(self.args.rounds):
            for spec, _row, target in measured:
                rounds[spec.name].append(self.measure_round(spec, target, first=n == 0))
                print(f"  round {n + 1}/{self.args.rounds}: {spec.name}", flush=True)
        floors = {}
        for spec, row, _target in measured:
            self.judge(row, spec, rounds[spec.name])
            floors.setdefault(spec.kind, []).extend(r.floor for r in rounds[spec.name])
        floors = [floor_row(kind, results) for kind, results in sorted(floors.items())]
        return floors + self.rows + exported


def floor_row(kind: str, runs: list) -> Row:
    """The floor over the whole run, for the table (each path's ratio uses the floor runs of its own rounds)."""
    label = "floor GET (1 indexed read)" if kind == "read" else "floor POST (1 indexed update)"
    p95s = sorted(r.p95_ms for r in runs)
    p50 = statistics.median(r.p50_ms for r in runs)
    rps = statistics.median(r.rps for r in runs)
    note = f"{len(runs)} runs, p95 from {p95s[0]:.1f} to {p95s[-1]:.1f} ms"
    return Row(label, p50, statistics.median(p95s), rps, "", statistics.median(p95s), 1.0, "floor", "PASS", note)


def print_table(rows: list[Row]) -> None:
    head = (
        f"{'path':<30} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'queries':>13} {'floor p95':>10} {'ratio':>6}  result"
    )
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        print(f"{r.path:<30} {r.p50:8.1f} {r.p95:8.1f} {r.rps:8.1f} {r.queries:>13} {r.floor_p95:10.1f} "
              f"{r.ratio:6.2f}  {r.verdict}{'  ' + r.note if r.note else ''}")  # fmt: skip
    print("\nqueries = per request for the largest CP / a median CP (staff pages: the same page twice).")
    print("CSV row: p50 = total ms, req/s = rows/s, floor = baseline rows/s, ratio = share of baseline.")
    print("PDF row: p50 = app ms, floor = plain reportlab ms, ratio = app / baseline.")


def main() -> int:
    args = parse_args()
    import redis

    redis.Redis.from_url(REDIS_DB_URL).flushdb()  # the benchmark's own database: no login limits from a last run
    port = free_port()
    server, worker = start_server(args, port)
    try:
        wait_until_up("127.0.0.1", port)
        bench = Bench(args, port, server)
        threads = f"×{args.threads}" if args.worker_class == "gthread" else ""
        print(f"gunicorn {args.worker_class} {args.workers}{threads} on 127.0.0.1:{port}; load: "
              f"{'wrk' if bench.wrk else 'python threads'}, {args.connections} connections, {args.seconds:g} s/path")  # fmt: skip
        rows = bench.run()
    finally:
        for process in (server, worker):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    print_table(rows)
    return finish(rows, args.json)


def finish(rows: list[Row], json_path: Path | None) -> int:
    """Write the rows as JSON if asked, say whether every target was met; the exit status (0: all met)."""
    if json_path:
        json_path.write_text(json.dumps([asdict(r) for r in rows], indent=2))
    failed = [r.path for r in rows if r.verdict != "PASS"]
    print(f"\n{'ALL TARGETS MET' if not failed else 'TARGETS MISSED: ' + ', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
