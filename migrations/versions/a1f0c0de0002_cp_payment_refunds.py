"""cp_payments: refunds of card payments completed after they stopped being the live one

Revision ID: a1f0c0de0002
Revises: a1f0c0de0001
Create Date: 2026-12-10 10:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a1f0c0de0002'
down_revision = 'a1f0c0de0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cp_payments') as batch_op:
        batch_op.add_column(sa.Column('stripe_refund_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('refunded_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('needs_review', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(batch_op.f('ix_cp_payments_needs_review'), ['needs_review'], unique=False)


def downgrade():
    with op.batch_alter_table('cp_payments') as batch_op:
        batch_op.drop_index(batch_op.f('ix_cp_payments_needs_review'))
        batch_op.drop_column('needs_review')
        batch_op.drop_column('refunded_at')
        batch_op.drop_column('stripe_refund_id')
