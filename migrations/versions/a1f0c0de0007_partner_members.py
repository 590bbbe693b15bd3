"""partner_members and partner_invites: a partner's team; every existing partner's user becomes its owner

Revision ID: a1f0c0de0007
Revises: a1f0c0de0006
Create Date: 2026-12-07 02:30:00

"""
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a1f0c0de0007'
down_revision = 'a1f0c0de0006'
branch_labels = None
depends_on = None

ROLES = ('owner', 'manager', 'viewer')


def _role():
    return sa.Enum(*ROLES, name='member_role', native_enum=False, create_constraint=True, length=7)


def upgrade():
    op.create_table(
        'partner_members',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('partner_id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('role', _role(), nullable=False),
        sa.Column(
            'status',
            sa.Enum('active', 'deactivated', name='member_status', native_enum=False, create_constraint=True, length=11),
            nullable=False,
        ),
        sa.Column('invited_by', sa.Uuid(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('deactivated_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['partner_id'], ['channel_partners.id'], name=op.f('fk_partner_members_partner_id_channel_partners'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_partner_members_user_id_users'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invited_by'], ['users.id'], name=op.f('fk_partner_members_invited_by_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_members')),
    )
    with op.batch_alter_table('partner_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_members_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_partner_members_user_id'), ['user_id'], unique=True)

    op.create_table(
        'partner_invites',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('partner_id', sa.Uuid(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('role', _role(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_by', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('accepted_at', sa.DateTime(), nullable=True),
        sa.Column('accepted_by', sa.Uuid(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['partner_id'], ['channel_partners.id'], name=op.f('fk_partner_invites_partner_id_channel_partners'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_partner_invites_created_by_users')),
        sa.ForeignKeyConstraint(['accepted_by'], ['users.id'], name=op.f('fk_partner_invites_accepted_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_invites')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_partner_invites_token_hash')),
    )
    with op.batch_alter_table('partner_invites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_invites_partner_id'), ['partner_id'], unique=False)

    with op.batch_alter_table('channel_partners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invite_code', sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_channel_partners_invite_code'), ['invite_code'])

    # Every partner so far had one login: it becomes the owner of the partner's team.
    conn = op.get_bind()
    partners = sa.table('channel_partners', sa.column('id', sa.Uuid()), sa.column('user_id', sa.Uuid()))
    members = sa.table(
        'partner_members',
        sa.column('id', sa.Uuid()),
        sa.column('partner_id', sa.Uuid()),
        sa.column('user_id', sa.Uuid()),
        sa.column('role', sa.String()),
        sa.column('status', sa.String()),
        sa.column('created_at', sa.DateTime()),
    )
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = conn.execute(sa.select(partners.c.id, partners.c.user_id)).all()
    for start in range(0, len(rows), 5000):
        conn.execute(
            members.insert(),
            [
                {'id': uuid.uuid4(), 'partner_id': pid, 'user_id': uid, 'role': 'owner', 'status': 'active', 'created_at': now}
                for pid, uid in rows[start : start + 5000]
            ],
        )


def downgrade():
    with op.batch_alter_table('channel_partners', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_channel_partners_invite_code'), type_='unique')
        batch_op.drop_column('invite_code')
    op.drop_table('partner_invites')
    op.drop_table('partner_members')
