"""one-time tokens (password reset, set-password, email confirmation) and users.email_confirmed_at

Every user that exists before this revision is marked confirmed (at their sign-up time): they were
approved or created without confirmation, and approval now requires it.

Revision ID: a1f0c0de0005
Revises: a1f0c0de0004
Create Date: 2026-12-14 10:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a1f0c0de0005'
down_revision = 'a1f0c0de0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_confirmed_at', sa.DateTime(), nullable=True))
    users = sa.table('users', sa.column('email_confirmed_at', sa.DateTime()), sa.column('created_at', sa.DateTime()))
    op.execute(users.update().where(users.c.email_confirmed_at.is_(None)).values(email_confirmed_at=users.c.created_at))

    op.create_table(
        'one_time_tokens',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('purpose', sa.String(length=32), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.Column('voided_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], name=op.f('fk_one_time_tokens_user_id_users'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_one_time_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_one_time_tokens_token_hash')),
    )
    with op.batch_alter_table('one_time_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_one_time_tokens_user_purpose', ['user_id', 'purpose'], unique=False)


def downgrade():
    with op.batch_alter_table('one_time_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_one_time_tokens_user_purpose')
    op.drop_table('one_time_tokens')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email_confirmed_at')
