"""audit events append only

Revision ID: 555df3b8c0bc
Revises: 27dc4e07219e
Create Date: 2026-11-21 09:47:26.318142

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '555df3b8c0bc'
down_revision = '27dc4e07219e'
branch_labels = None
depends_on = None


def upgrade():
    # The audit log is append-only: on PostgreSQL the database itself refuses UPDATE and DELETE.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION audit_events_refuse_change() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'audit_events is append-only';
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
    op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
    op.execute("DROP FUNCTION IF EXISTS audit_events_refuse_change()")
