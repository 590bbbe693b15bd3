"""The intake benchmark (issue 18) against PostgreSQL at the seed-scale size (1,000,000 leads):

    python bench/intake.py [--database-url postgresql://...] [--only dup,form,import] [--json F]

- duplicate check: app.leads.duplicates.find_duplicate for a few thousand existing and absent emails/phones;
  p95 ≤ 5 ms; its two queries are shown with EXPLAIN ANALYZE.
- public form: POST /request/<slug> (a fresh email and phone per request, one anonymous session with its CSRF
  token) in rounds paired with the POST floor, as bench/run.py does; median p95 ratio ≤ 3 × the floor.
- import: a 100,000-row CSV (~2 % broken, ~2 % duplicates of recent leads) through `flask import-leads`;
  ≥ 5,000 rows/s over the wall time and the process's peak RSS < 200 MB.
Everything the benchmark creates is deleted again (through the session, so the rollups stay right).
Exit status 0 only when every target is met.
"""

import argparse
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import intake_data, load  # noqa: E402
from bench.client import Session, wait_until_up  # noqa: E402
from bench.paths import Target  # noqa: E402
from bench.run import LOGINS, PASSWORD, Row, build_app, encryption_keys, finish, free_port  # noqa: E402

DUP_P95_MS, FORM_RATIO, IMPORT_ROWS_PER_S, IMPORT_RSS_MB = 5.0, 3.0, 5000.0, 200.0
FORM_DOMAIN = "form-bench.example.com"
REDIS_DB_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")  # rate limits and queued emails


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_db = os.environ.get("DATABASE_URL") or "postgresql://leadflow@127.0.0.1:5432/leadflow_bench"
    parser.add_argument("--database-url", default=default_db)
    parser.add_argument("--only", help="comma-separated: dup, form, import")
    parser.add_argument("--samples", type=int, default=4000, help="duplicate checks timed")
    parser.add_argument("--seconds", type=float, default=3, help="seconds per form run (its floor run: half, ≥ 2)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the imported CSV")
    parser.add_argument("--category", default="solar-panels", help="the category slug the form and import use")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--keep", action="store_true", help="keep the leads the benchmark created")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--server-log", type=Path, default=Path("/tmp/leadflow-bench-intake-server.log"))
    return parser.parse_args()


# --- duplicate check --------------------------------------------------------------------------------------


def bench_duplicates(args, app) -> Row:
    """Judged at the database (planning + execution of its two queries); the whole call is shown beside it."""
    found = intake_data.duplicate_check(app, args.samples, args.seed)
    call, at_db = found["call"], found["db"]
    row = Row("duplicate check (2 queries)", p50=at_db.p50, p95=at_db.p95, target=f"p95 ≤ {DUP_P95_MS:g} ms at the DB")
    row.queries = f"call p95 {call.p95:.2f} ms"
    indexes = {"ix_leads_email_normalized_created", "ix_leads_phone_e164_created"}
    used = {name for plan in found["plans"] for name in indexes if any(name in line for line in plan)}
    row.verdict = "PASS" if at_db.p95 <= DUP_P95_MS and used == indexes else "FAIL"
    row.note = (f"{call.count:,} checks in 5 rounds (medians of the rounds), {found['hits']:,} found a lead; "
                f"the whole find_duplicate call from Python: p50 {call.p50:.2f} / p95 {call.p95:.2f} ms; "
                f"indexes used: {', '.join(sorted(used)) or 'NONE'}")  # fmt: skip
    for plan in found["plans"]:
        print("\n".join("    " + line for line in plan), flush=True)
    return row


# --- public form ------------------------------------------------------------------------------------------


def start_server(args, port: int) -> subprocess.Popen:
    """gunicorn as bench/run.py starts it, with Redis (rate-limit storage, the queued confirmation emails) and
    limits too high to be reached."""
    env = {**os.environ, "DATABASE_URL": args.database_url, "LEADFLOW_CONFIG": "production",
           "SECRET_KEY": secrets.token_hex(32), "ENCRYPTION_KEYS": encryption_keys(), "BENCH_FLOOR": "1",
           "JSON_LOGS": "0", "MFA_REQUIRED_FOR_STAFF": "0", "REDIS_URL": REDIS_DB_URL,
           "PUBLIC_FORM_RATE_LIMIT": "1000000 per minute", "PUBLIC_FORM_EMAIL_RATE_LIMIT": "1000000 per minute"}  # fmt: skip
    command = [sys.executable, "-m", "gunicorn", "--worker-class", "sync", "--workers", str(args.workers),
               "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "600", "wsgi:app"]  # fmt: skip
    log = open(args.server_log, "w")  # noqa: SIM115  (gunicorn writes to it for the whole run)
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)


def form_body(csrf: str) -> str:
    """The form's fields; {run}, {n} and {phone} are filled per round (Python) and per request (form.lua)."""
    fields = {"csrf_token": csrf, "first_name": "Bench", "last_name": "Prospect", "contact_company": "Bench Ltd",
              "contact_email": f"prospect.{{run}}.{{n}}@{FORM_DOMAIN}", "contact_phone": "{phone}",
              "description": "Looking for a quote.", "lead_type": "business", "budget": "5k_25k",
              "timeline": "quarter", "website": ""}  # fmt: skip
    return "&".join(f"{k}={v if '{' in v else quote(v, safe='')}" for k, v in fields.items())


def run_form(wrk: str, base: str, session: Session, path: str, body: str, seconds: float, n: int) -> load.Result:
    env = {**os.environ, "BENCH_PATH": path, "BENCH_BODY": body,
           "BENCH_HEADERS": f"Cookie: {session.cookie_header()}\nX-CSRFToken: {session.csrf}"}  # fmt: skip
    command = [wrk, f"-t{n}", f"-c{n}", f"-d{max(int(seconds), 1)}s", "--timeout", "30s"]
    data = load.wrk_report([*command, "-s", str(ROOT / "bench" / "form.lua"), base + path], env)
    return load.result_of(data, failed=lambda code: code >= 400)  # a form answers with a redirect


def bench_form(args, app) -> Row:
    row = Row("public form POST", target=f"p95 ≤ {FORM_RATIO:g}× POST floor")
    if not any(re.fullmatch(r"/request/<[^>]*slug>", r.rule) for r in app.url_map.iter_rules()):
        row.verdict, row.note = "MISSING", "no route /request/<slug>"
        return row
    port = free_port()
    server = start_server(args, port)
    try:
        wait_until_up("127.0.0.1", port)
        return measure_form(args, port, row)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def measure_form(args, port: int, row: Row) -> Row:
    wrk, base = load.ensure_wrk(), f"http://127.0.0.1:{port}"
    if wrk is None:
        row.note = "wrk is needed (apt-get install wrk)"
        return row
    path, run = f"/request/{args.category}", secrets.token_hex(3)
    floor_session = Session("127.0.0.1", port).login(LOGINS["cp"], PASSWORD)
    prospect = Session("127.0.0.1", port)
    page = prospect.request("GET", path)
    prospect.csrf = prospect.scrape_csrf(page.text)
    body = form_body(prospect.csrf)
    probe = prospect.request(
        "POST", path, body.replace("{run}", run).replace("{n}", "probe").replace("{phone}", "%2B14155550123")
    )
    if page.status != 200 or probe.status >= 400:
        row.note = f"probe: GET {page.status}, POST {probe.status}: {probe.text[:300]}"
        return row
    floor = Target(["/bench/floor"], method="POST", bodies=["x=1"])
    run_form(wrk, base, prospect, path, body.replace("{run}", run + "w"), 2, args.connections)  # warm up
    rounds = []
    for n in range(args.rounds):
        floor_result = load.run_wrk(wrk, base, floor_session, floor, max(args.seconds / 2, 2), args.connections)
        form = run_form(wrk, base, prospect, path, body.replace("{run}", f"{run}r{n}"), args.seconds, args.connections)
        rounds.append((floor_result, form))
        print(f"  round {n + 1}/{args.rounds}: form p95 {form.p95_ms:.1f} ms, floor {floor_result.p95_ms:.1f} ms",
              flush=True)  # fmt: skip
    forms = [form for _, form in rounds]
    row.p50 = statistics.median(f.p50_ms for f in forms)
    row.p95 = statistics.median(f.p95_ms for f in forms)
    row.rps = statistics.median(f.rps for f in forms)
    row.floor_p95 = statistics.median(f.p95_ms for f, _ in rounds)
    row.ratio = statistics.median(form.p95_ms / max(f.p95_ms, 0.001) for f, form in rounds)
    statuses = {}
    for form in forms:
        for code, count in form.statuses.items():
            statuses[code] = statuses.get(code, 0) + count
    row.queries = f"{sum(f.requests for f in forms):,} posts"
    bad = sum(f.bad for f in forms)
    row.verdict = "PASS" if row.ratio <= FORM_RATIO and not bad else "FAIL"
    detail = ", ".join(f"{form.p95_ms:.1f}/{f.p95_ms:.1f}" for f, form in rounds)
    row.note = f"statuses {statuses}; rounds p95/floor: {detail}"
    return row


# --- import -----------------------------------------------------------------------------------------------


def bench_import(args, app) -> Row:
    row = Row("CSV import (rows/s)", target=f"≥ {IMPORT_ROWS_PER_S:,.0f} rows/s, peak RSS < {IMPORT_RSS_MB:g} MB")
    if "import-leads" not in app.cli.commands:
        row.verdict, row.note = "MISSING", "no `flask import-leads` command"
        return row
    from app.extensions import db

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench-leads.csv"
        with app.app_context():
            counts = intake_data.write_csv(path, args.rows, db.session, args.seed, secrets.token_hex(3))
            db.session.rollback()
        result = intake_data.run_import(path, args.category, args.database_url)
    import_id = intake_data.latest_import_id(app)
    row.p50, row.rps = result["seconds"] * 1000, args.rows / result["seconds"]
    row.floor_p95 = result["peak_rss_mb"]
    row.queries = f"{args.rows:,} rows"
    ok = result["exit"] == 0 and row.rps >= IMPORT_ROWS_PER_S and result["peak_rss_mb"] < IMPORT_RSS_MB
    row.verdict = "PASS" if ok else "FAIL"
    last = result["output"].splitlines()[-3:]
    row.note = (f"{result['seconds']:.1f} s wall, peak RSS {result['peak_rss_mb']:.0f} MB, exit {result['exit']}; "
                f"file: {counts['broken']:,} broken, {counts['duplicates']:,} duplicates; says: {' | '.join(last)}")  # fmt: skip
    if import_id is not None and not args.keep:
        from app.models import Lead

        row.note += f"; {intake_data.delete_leads(app, Lead.import_id == import_id):,} imported leads deleted"
    return row


def print_table(rows: list[Row]) -> None:
    head = f"{'measure':<34} {'p50':>9} {'p95':>9} {'rate':>9} {'floor/RSS':>10} {'ratio':>6}  {'target':<34} result"
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        print(f"{r.path:<34} {r.p50:9.2f} {r.p95:9.2f} {r.rps:9.1f} {r.floor_p95:10.1f} {r.ratio:6.2f}  "
              f"{r.target:<34} {r.verdict}  {r.queries}; {r.note}")  # fmt: skip
    print("\nduplicate check: ms per call. form: ms, req/s, POST floor p95 ms. import: p50 = wall ms, rate = rows/s,")
    print("floor/RSS = peak RSS MB of the import process.")


def main() -> int:
    args = parse_args()
    wanted = {w.strip() for w in (args.only or "dup,form,import").split(",") if w.strip()}
    app = build_app(args.database_url)
    rows = []
    started = time.perf_counter()
    try:
        if "dup" in wanted:
            rows.append(bench_duplicates(args, app))
        if "form" in wanted:
            rows.append(bench_form(args, app))
        if "import" in wanted:
            rows.append(bench_import(args, app))
    finally:
        if not args.keep:
            from app.models import Lead

            gone = intake_data.delete_leads(app, Lead.email_normalized.like(f"%@{FORM_DOMAIN}"))
            print(f"{gone:,} leads from the form benchmark deleted ({time.perf_counter() - started:.0f} s in all)")
        if "form" in wanted:
            import redis

            redis.Redis.from_url(REDIS_DB_URL).flushdb()  # the benchmark's own database: limits, queued emails
    print_table(rows)
    return finish(rows, args.json)


if __name__ == "__main__":
    sys.exit(main())
