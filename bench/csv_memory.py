"""Benchmark (not a test): stream the commission-report CSV of 100,000 rows and measure memory growth.

    python bench/csv_memory.py [--rows 100000] [--database-url sqlite:////tmp/leadflow-csv-bench.db]

Builds a scratch database (SQLite by default; pass a PostgreSQL URL to measure a server-side cursor),
fills it with leads (half of them won, with commission transactions), then downloads
/super/reports/export.csv through the Flask test client without buffering, counting bytes and rows
as they arrive. Python allocations are traced with tracemalloc; the peak growth is printed next to
what holding every row in a list costs, which is what a non-streaming export would need.
"""

import argparse
import os
import sys
import time
import tracemalloc
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import CommissionTransaction, Lead  # noqa: E402
from tests import factories  # noqa: E402
from tests.conftest import FreshContextClient, login  # noqa: E402

BATCH = 5000


def build(rows: int) -> object:
    """Partners, categories and `rows` leads inserted in bulk; every second lead won with a transaction."""
    boss = factories.make_user("super_admin")
    partners = [factories.make_partner(company=f"Bench partner {i} Ø") for i in range(20)]
    categories = [factories.make_category(f"Bench category {i}") for i in range(8)]
    db.session.commit()
    start = datetime(2025, 1, 1)
    for offset in range(0, rows, BATCH):
        leads, txs = [], []
        for n in range(offset, min(offset + BATCH, rows)):
            lead_id, partner = uuid.uuid4(), partners[n % len(partners)]
            won = n % 2 == 0
            when = start + timedelta(minutes=7 * n)
            leads.append(
                {
                    "id": lead_id,
                    "title": f"=Bench lead {n}",
                    "description": "",
                    "category_id": categories[n % 8].id,
                    "allocated_to": partner.id,
                    "allocation_status": "allocated",
                    "kanban_stage": "won" if won else "contacted",
                    "lead_value": Decimal("10000.00"),
                    "commission_amount": Decimal("1000.00"),
                    "platform_fee_amount": Decimal("100.00"),
                    "net_commission": Decimal("900.00"),
                    "fee_capped": False,
                    "stage_changed_at": when,
                    "version": 1,
                    "created_at": when,
                    "updated_at": when,
                }
            )
            if won:
                txs.append(
                    {
                        "id": uuid.uuid4(),
                        "lead_id": lead_id,
                        "cp_id": partner.id,
                        "gross_commission": Decimal("1000.00"),
                        "platform_fee": Decimal("100.00"),
                        "net_commission": Decimal("900.00"),
                        "lead_value": Decimal("10000.00"),
                        "status": "pending",
                        "fee_rule_type": "percentage",
                        "fee_rule_value": Decimal("10"),
                        "fee_rule_source": "global",
                        "fee_capped": False,
                        "client_paid_cp_directly": False,
                        "won_at": when,
                        "created_at": when,
                        "updated_at": when,
                    }
                )
        db.session.execute(sa.insert(Lead), leads)
        if txs:
            db.session.execute(sa.insert(CommissionTransaction), txs)
        db.session.commit()
    return boss


def stream_csv(client) -> tuple[int, int, float, int]:
    tracemalloc.start()
    began = time.perf_counter()
    response = client.get("/super/reports/export.csv", buffered=False)
    size = lines = 0
    for chunk in response.response:
        size += len(chunk)
        lines += 1
    elapsed = time.perf_counter() - began
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    response.close()
    return size, lines, elapsed, peak


def list_everything(app) -> int:
    """The cost of the naive way, for comparison: every report row held in a list."""
    from app.reporting import reports

    with app.app_context():
        tracemalloc.start()
        rows = db.session.execute(reports.report_select()).all()
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del rows
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default="sqlite:////tmp/leadflow-csv-bench.db")
    args = parser.parse_args()
    url = args.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    if url.startswith("sqlite:////") and os.path.exists(url[len("sqlite:///") :]):
        os.remove(url[len("sqlite:///") :])
    app = create_app("test", SQLALCHEMY_DATABASE_URI=url, REDIS_URL=None, RATELIMIT_STORAGE_URI="memory://")
    app.test_client_class = FreshContextClient
    with app.app_context():
        db.drop_all()
        db.create_all()
        began = time.perf_counter()
        boss = build(args.rows)
        print(f"built {args.rows:,} leads in {time.perf_counter() - began:.1f} s on {db.engine.dialect.name}")
        client = login(app.test_client(), boss)
    size, lines, elapsed, peak = stream_csv(client)
    print(f"streamed {lines - 1:,} rows, {size / 1e6:.1f} MB of CSV in {elapsed:.1f} s")
    print(f"peak Python memory while streaming: {peak / 1e6:.2f} MB")
    naive = list_everything(app)
    print(f"peak Python memory holding every row in a list instead: {naive / 1e6:.2f} MB")
    print(f"streaming uses {peak / naive:.1%} of that" if naive else "")


if __name__ == "__main__":
    main()
