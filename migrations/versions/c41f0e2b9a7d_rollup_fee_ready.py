"""rollups: fee_ready, the outstanding fees that can be settled now

Revision ID: c41f0e2b9a7d
Revises: 7b1e2c9d4a10
Create Date: 2026-12-04 15:40:00

"""
import uuid
from collections import Counter
from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c41f0e2b9a7d'
down_revision = '7b1e2c9d4a10'
branch_labels = None
depends_on = None

TABLES = ("rollup_daily", "rollup_partner_monthly")
NO_KEY = uuid.UUID(int=0)
ALL_TIME = date(1, 1, 1)


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("fee_ready", sa.BigInteger(), server_default="0", nullable=False))
    _backfill(op.get_bind())


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("fee_ready")


def _backfill(conn) -> None:
    """Count the fees ready to settle into the rows the rollup hook keeps from now on (the rules of
    app.reporting.rollups.contributions: by won day and category, and by partner per month and all time).
    Every such fee's lead already has its rows there (it counts in `rows` on the same keys)."""
    ct = sa.table("commission_transactions", sa.column("id", sa.Uuid), sa.column("lead_id", sa.Uuid),
                  sa.column("cp_id", sa.Uuid), sa.column("status", sa.String), sa.column("won_at", sa.DateTime),
                  sa.column("client_paid_cp_directly", sa.Boolean))  # fmt: skip
    lead = sa.table("leads", sa.column("id", sa.Uuid), sa.column("category_id", sa.Uuid),
                    sa.column("allocated_to", sa.Uuid))  # fmt: skip
    item = sa.table("platform_fee_settlement_items", sa.column("transaction_id", sa.Uuid))
    pay = sa.table("cp_payments", sa.column("commission_tx_id", sa.Uuid), sa.column("status", sa.String))
    cp_paid = sa.exists().where(pay.c.commission_tx_id == ct.c.id, pay.c.status == "completed")
    ready = (
        sa.select(ct.c.won_at, lead.c.category_id, sa.func.coalesce(ct.c.cp_id, lead.c.allocated_to))
        .join(lead, lead.c.id == ct.c.lead_id)
        .where(ct.c.status == "paid", ~sa.exists().where(item.c.transaction_id == ct.c.id))
        .where(sa.or_(ct.c.client_paid_cp_directly.is_(False), cp_paid))
    )
    daily, partner = Counter(), Counter()
    for won_at, category, cp in conn.execute(ready):
        day, category = won_at.date(), category or NO_KEY
        daily[("day", day, category)] += 1
        daily[("week", day - timedelta(days=day.weekday()), category)] += 1
        daily[("month", day.replace(day=1), category)] += 1
        partner[(cp or NO_KEY, day.replace(day=1))] += 1
        partner[(cp or NO_KEY, ALL_TIME)] += 1
    rollup_daily = sa.table("rollup_daily", sa.column("period", sa.String), sa.column("day", sa.Date),
                            sa.column("category_key", sa.Uuid), sa.column("fee_ready", sa.BigInteger))  # fmt: skip
    rollup_partner = sa.table("rollup_partner_monthly", sa.column("cp_key", sa.Uuid), sa.column("month", sa.Date),
                              sa.column("fee_ready", sa.BigInteger))  # fmt: skip
    _update(conn, rollup_daily, ("period", "day", "category_key"), daily)
    _update(conn, rollup_partner, ("cp_key", "month"), partner)


def _update(conn, table, key_columns, counts: Counter) -> None:
    if not counts:
        return
    stmt = sa.update(table).where(*(table.c[c] == sa.bindparam(f"k_{c}") for c in key_columns))
    stmt = stmt.values(fee_ready=sa.bindparam("n"))
    rows = [{**{f"k_{c}": v for c, v in zip(key_columns, key)}, "n": n} for key, n in counts.items()]
    conn.execute(stmt, rows)
