"""partner list by lead value: a PostgreSQL-only index

Revision ID: 7b1e2c9d4a10
Revises: 555df3b8c0bc
Create Date: 2026-11-21 13:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '7b1e2c9d4a10'
down_revision = '555df3b8c0bc'
branch_labels = None
depends_on = None


def upgrade():
    # A partner's lead list sorted by value, largest first (NULLS LAST, as the list sorts), read in index order.
    # SQLite cannot declare NULLS LAST in an index, so this index lives only here (migrations/env.py keeps
    # autogenerate from seeing it as drift), and seed-scale leaves it in place.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_leads_assignee_value ON leads (allocated_to, lead_value DESC NULLS LAST, id)"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_leads_assignee_value")
