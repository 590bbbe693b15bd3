"""The intake benchmark's database-side parts (bench/intake.py): the duplicate check at 1,000,000 leads, the
100,000-row CSV import through `flask import-leads`, and removing what the benchmark created.
"""

import csv
import os
import random
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
WARM = 500  # duplicate checks run before the timed ones, with other values
FIRST = ("Ava", "Noah", "Zara", "Leo", "Ines", "Ravi", "Chloe", "Tariq", "Mila", "Hugo", "Nadia", "Ezra")
LAST = ("Morgan", "Ibrahim", "Kowalski", "Dubois", "Ferreira", "Nakamura", "Osei", "Lindqvist", "Moreau", "Patel")
JOBS = ("Owner", "Purchasing lead", "CFO", "IT manager", "Facilities manager", "")
INDUSTRIES = ("Retail", "Logistics", "Healthcare", "Hospitality", "Manufacturing", "")
HEADERS = ("First name", "Last name", "Email", "Phone", "Company", "Job title", "Industry", "Address", "Lead type",
           "Budget", "Timeline")  # fmt: skip
BROKEN = (("Email", "not-an-email"), ("Phone", "12345"), ("First name", ""), ("Lead type", "wholesale"))


@dataclass
class Timing:
    p50: float
    p95: float
    count: int


def quantiles(values: list[float]) -> Timing:
    cuts = statistics.quantiles(values, n=100)
    return Timing(cuts[49], cuts[94], len(values))


# --- duplicate check --------------------------------------------------------------------------------------


def duplicate_probes(session, samples: int, rng: random.Random) -> list[tuple[str | None, str | None]]:
    """(email, phone) pairs: half of recent leads (matches in the 90-day window), a quarter of older leads
    (the value exists, outside the window), a quarter that no lead has."""
    from app.leads.duplicates import WINDOW
    from app.models.base import utcnow

    since = utcnow() - WINDOW
    pick = "SELECT email_normalized, phone_e164 FROM leads WHERE created_at {} :since ORDER BY random() LIMIT :n"
    recent = session.execute(sa.text(pick.format(">=")), {"since": since, "n": samples // 2}).all()
    older = session.execute(sa.text(pick.format("<")), {"since": since, "n": samples // 4}).all()
    absent = [(f"nobody{n}@absent.test", f"+1415999{n % 10000:04d}") for n in range(samples - len(recent) - len(older))]
    probes = [tuple(row) for row in (*recent, *older)] + absent
    rng.shuffle(probes)
    return probes


def duplicate_check(app, samples: int, seed: int) -> dict:
    """Time app.leads.duplicates.find_duplicate per call (round trips included, on this shared machine), then
    the database's own time for its two queries (planning + execution, from EXPLAIN ANALYZE of each call's
    statements with its values), and keep the plans of one existing lead's queries."""
    from app.extensions import db
    from app.leads import duplicates

    with app.app_context():
        probes = duplicate_probes(db.session, samples + WARM, random.Random(seed))
        warm, probes = probes[:WARM], probes[WARM:]
        captured: list[tuple[str, object]] = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            if "created_at >=" in statement and "LIMIT" in statement:  # the two duplicate queries, not the get
                captured.append((statement, parameters))

        for email, phone in warm:  # warm the connection, the statement cache and the index pages (other values)
            duplicates.find_duplicate(email, phone)
        db.session.expunge_all()
        calls, per_call, found_any = [], [], []
        sa.event.listen(db.engine, "before_cursor_execute", capture)
        try:
            for email, phone in probes:
                captured.clear()
                started = time.perf_counter()
                found = duplicates.find_duplicate(email, phone)
                calls.append((time.perf_counter() - started) * 1000)
                per_call.append(list(captured))
                found_any.append(found is not None)
                db.session.expunge_all()
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", capture)
        cursor = db.session.connection().connection.driver_connection.cursor()
        at_db = [sum(server_ms(cursor, statement, parameters) for statement, parameters in call) for call in per_call]
        found_both = next((call for call, hit in zip(per_call, found_any, strict=True) if hit and len(call) == 2), [])
        plans = [explain(cursor, statement, parameters) for statement, parameters in found_both]
        db.session.rollback()
    return {"call": by_rounds(calls), "db": by_rounds(at_db), "hits": sum(found_any), "plans": plans}


def server_ms(cursor, statement: str, parameters) -> float:
    cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
    plan = cursor.fetchone()[0][0]
    return plan["Planning Time"] + plan["Execution Time"]


def by_rounds(values: list[float], rounds: int = 5) -> Timing:
    """Median over consecutive rounds of the rounds' p50 and p95: a spell of noise on this shared machine
    spoils a round, not the figure (as bench/run.py does for the pages)."""
    size = len(values) // rounds
    parts = [quantiles(values[n * size : (n + 1) * size]) for n in range(rounds)]
    return Timing(statistics.median(t.p50 for t in parts), statistics.median(t.p95 for t in parts), len(values))


def explain(cursor, statement: str, parameters) -> list[str]:
    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters)
    return [row[0] for row in cursor.fetchall()]


# --- import -----------------------------------------------------------------------------------------------


def write_csv(path: Path, rows: int, session, seed: int, run: str) -> dict:
    """A realistic CSV of `rows` leads: ~2 % with a broken value, ~2 % the email and phone of a recent lead."""
    from app.leads.duplicates import WINDOW
    from app.models.base import utcnow

    rng = random.Random(seed)
    existing = session.execute(
        sa.text(
            "SELECT contact_email, contact_phone FROM leads WHERE created_at >= :since AND contact_phone IS NOT NULL"
            " ORDER BY random() LIMIT :n"
        ),
        {"since": utcnow() - WINDOW, "n": rows // 50},
    ).all()
    counts = {"rows": rows, "broken": 0, "duplicates": 0}
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADERS)
        for n in range(rows):
            first, last = FIRST[rng.randrange(len(FIRST))], LAST[rng.randrange(len(LAST))]
            email = f"{first}.{last}.{run}{n}@import-bench.example.com"
            # exchanges 200-229: the scale data uses 230 and up, so only the copied rows below match existing leads
            phone = f"+1 646 {200 + n // 10000 % 30} {n % 10000:04d}"
            roll = rng.random()
            if roll < 0.02 and existing:
                email, phone = existing[rng.randrange(len(existing))]
                counts["duplicates"] += 1
            row = dict(zip(HEADERS, (first, last, email, phone, f"{last} {rng.choice(('Ltd', 'LLC', 'GmbH'))}",
                                     rng.choice(JOBS), rng.choice(INDUSTRIES), f"{n % 500 + 1} Harbour Way",
                                     rng.choice(("business", "consumer", "")), rng.choice(("under_5k", "5k_25k", "")),
                                     rng.choice(("now", "quarter", "year", ""))), strict=True))  # fmt: skip
            if 0.02 <= roll < 0.04:
                column, value = BROKEN[n % len(BROKEN)]
                row[column] = value
                counts["broken"] += 1
            out.writerow(row.values())
    return counts


def run_import(csv_path: Path, slug: str, database_url: str) -> dict:
    """`flask import-leads FILE --category SLUG` as a child process: wall time, its peak RSS (wait4), its output."""
    env = {**os.environ, "DATABASE_URL": database_url, "JSON_LOGS": "0"}
    env.pop("REDIS_URL", None)
    command = [sys.executable, "-m", "flask", "--app", "wsgi.py", "import-leads", str(csv_path), "--category", slug]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    reported = re.search(r"([\d,.]+)\s*rows/s", output)
    return {
        "seconds": seconds,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "exit": child.returncode,
        "output": output.strip(),
        "reported_rows_per_s": float(reported.group(1).replace(",", "")) if reported else None,
    }


def delete_leads(app, where, chunk: int = 5000) -> int:
    """Delete the benchmark's leads through the ORM session, so the rollups hook takes them out of the rollups."""
    from app.extensions import db
    from app.models import Lead

    deleted = 0
    with app.app_context():
        ids = db.session.scalars(sa.select(Lead.id).where(where)).all()
        for start in range(0, len(ids), chunk):
            db.session.execute(sa.delete(Lead).where(Lead.id.in_(ids[start : start + chunk])))
            db.session.commit()
            deleted += min(chunk, len(ids) - start)
    return deleted


def latest_import_id(app):
    """The id of the newest import (the one the benchmark just ran), or None."""
    from app.extensions import db
    from app.models import LeadImport

    with app.app_context():
        return db.session.scalar(sa.select(LeadImport.id).order_by(LeadImport.created_at.desc()).limit(1))
