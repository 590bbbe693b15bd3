"""CSV and PDF export measurements, each next to a plain baseline that runs the same query without the app."""

import csv
import io
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg

from bench.client import Session


@dataclass
class Figure:
    value: float
    baseline: float
    rows: int
    peak_mb: float = 0.0
    note: str = ""


def worker_pids(master: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(entry.name))
    return pids


def rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


class PeakRss:
    """Samples the RSS of every gunicorn worker every 20 ms; `peak` is the highest seen by any worker."""

    def __init__(self, master: int):
        self.pids, self.peak, self._stop = worker_pids(master), 0.0, threading.Event()
        self.before = max((rss_mb(p) for p in self.pids), default=0.0)

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, *(rss_mb(p) for p in self.pids), 0.0)
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def stream_csv(session: Session, path: str, master: int) -> tuple[int, float, float, float]:
    """GET a CSV export, reading the stream as it comes: (rows, seconds, peak and starting worker RSS in MB)."""
    import http.client

    with PeakRss(master) as rss:
        conn = http.client.HTTPConnection(session.host, session.port, timeout=600)
        started = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": session.cookie_header()})
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"CSV export answered HTTP {response.status}")
        lines = 0
        while chunk := response.read(256 * 1024):
            lines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
        conn.close()
    return lines - 1, seconds, rss.peak, rss.before


def baseline_csv(dsn: str, sql: str) -> tuple[int, float]:
    """csv.writer over a server-side psycopg cursor running the report's own SQL, no app: (rows, seconds)."""
    sink = io.StringIO()
    writer = csv.writer(sink)
    started, rows = time.perf_counter(), 0
    with psycopg.connect(dsn) as conn, conn.cursor(name="bench_csv") as cur:
        cur.itersize = 1000
        cur.execute(sql)
        writer.writerow([c.name for c in cur.description])
        for row in cur:
            writer.writerow(row)
            rows += 1
            if rows % 5000 == 0:
                sink.seek(0)
                sink.truncate(0)
    return rows, time.perf_counter() - started


def baseline_pdf(dsn: str, sql: str) -> tuple[int, float]:
    """reportlab over the same rows without the app: a landscape A4 table, repeated header, 40 rows a chunk."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.platypus import SimpleDocTemplate, Table

    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        cur = conn.execute(sql)
        header = [c.name for c in cur.description]
        rows = [["" if v is None else str(v)[:30] for v in row] for row in cur]
    story = [Table([header, *rows[i : i + 40]], repeatRows=1) for i in range(0, len(rows), 40)]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=landscape(A4)).build(story)
    return len(rows), time.perf_counter() - started


def report_sql(app, **filters) -> str:
    """The super admin report's select (app.reporting.reports.report_select), compiled for psycopg."""
    from sqlalchemy.dialects import postgresql

    from app.reporting import reports

    with app.app_context():
        stmt = reports.report_select(reports.ReportFilters(**filters))
        return str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def pdf_filters(dsn: str, rows: int) -> dict:
    """A category and the first day from which the report holds about `rows` rows (one category keeps a
    day's worth of rows small, so the figure lands close to `rows`)."""
    with psycopg.connect(dsn) as conn:
        category = conn.execute("SELECT id FROM categories ORDER BY sort_order LIMIT 1").fetchone()[0]
        found = conn.execute(
            "SELECT coalesce(t.won_at, l.created_at) AS d FROM leads l LEFT JOIN commission_transactions t "
            "ON t.lead_id = l.id WHERE l.category_id = %s ORDER BY d DESC OFFSET %s LIMIT 1",
            (category, rows),
        ).fetchone()
    day = (found[0] + timedelta(days=1)).date() if found else None
    return {"category_id": category, "date_from": day}


def env_dsn() -> str:
    return os.environ.get("BENCH_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/leadflow_bench"
