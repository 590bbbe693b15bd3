"""channel_partners: KYC banking encrypted at rest, KYC review, partner code, tier, quota, capabilities, inactive

Revision ID: a1f0c0de0006
Revises: a1f0c0de0005
Create Date: 2026-12-11 10:00:00

The existing plain account numbers are encrypted with the app's ENCRYPTION_KEYS (Flask-Migrate runs inside
the app context, so app.crypto works here) and every existing partner gets a generated code.
"""
import secrets

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a1f0c0de0006'
down_revision = 'a1f0c0de0005'
branch_labels = None
depends_on = None

OLD_STATUSES = ('pending', 'approved', 'rejected', 'suspended')
NEW_STATUSES = (*OLD_STATUSES, 'inactive')
CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ'
BATCH = 500

partners = sa.table(
    'channel_partners',
    sa.column('id', sa.Uuid()),
    sa.column('code', sa.String()),
    sa.column('bank_account_number', sa.Text()),
)


def _enum(*values, name):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=max(map(len, values)))


def _set_status_check(batch_op, statuses):
    """The cp_status CHECK constraint (a VARCHAR + CHECK enum on both databases) with `statuses`."""
    batch_op.drop_constraint(op.f('ck_channel_partners_cp_status'), type_='check')
    batch_op.create_check_constraint(op.f('ck_channel_partners_cp_status'), sa.column('status').in_(statuses))


def _rewrite_account_numbers(convert) -> None:
    """Pass every stored account number through `convert`, BATCH rows at a time (keyset by id)."""
    bind, last = op.get_bind(), None
    while True:
        stmt = sa.select(partners.c.id, partners.c.bank_account_number).order_by(partners.c.id).limit(BATCH)
        if last is not None:
            stmt = stmt.where(partners.c.id > last)
        rows = bind.execute(stmt).all()
        if not rows:
            return
        for row_id, number in rows:
            if number:
                bind.execute(
                    partners.update().where(partners.c.id == row_id).values(bank_account_number=convert(number))
                )
        last = rows[-1][0]


def _encrypt_once(number: str) -> str:
    from app.crypto import decrypt, encrypt

    try:
        decrypt(number)
    except RuntimeError:
        return encrypt(number)
    return number  # already ciphertext (a re-run after a partial upgrade)


def _new_codes(bind) -> None:
    taken = set()
    for (row_id,) in bind.execute(sa.select(partners.c.id).where(partners.c.code.is_(None))).all():
        code = None
        while code is None or code in taken:
            code = 'CP-' + ''.join(secrets.choice(CODE_ALPHABET) for _ in range(6))
        taken.add(code)
        bind.execute(partners.update().where(partners.c.id == row_id).values(code=code))


def upgrade():
    with op.batch_alter_table('channel_partners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sa.String(length=12), nullable=True))
        batch_op.add_column(
            sa.Column('tier', _enum('bronze', 'silver', 'gold', 'platinum', name='cp_tier'),
                      server_default='bronze', nullable=False)
        )
        batch_op.add_column(sa.Column('monthly_lead_quota', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cap_originates', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('cap_works', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('cap_buys', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('cap_supplies', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('bank_iban', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('bank_routing_number', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('bank_currency', sa.String(length=3), nullable=True))
        batch_op.add_column(
            sa.Column('payout_method', _enum('bank_transfer', 'wire', 'check', name='payout_method'),
                      server_default='bank_transfer', nullable=False)
        )
        batch_op.add_column(sa.Column('tax_id', sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column('kyc_status', _enum('unverified', 'verified', 'rejected', name='kyc_status'),
                      server_default='unverified', nullable=False)
        )
        batch_op.add_column(sa.Column('kyc_reviewed_by', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('kyc_reviewed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('kyc_note', sa.Text(), nullable=True))
        batch_op.alter_column(
            'bank_account_number', existing_type=sa.String(length=60), type_=sa.Text(), existing_nullable=True
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_channel_partners_kyc_reviewed_by_users'), 'users', ['kyc_reviewed_by'], ['id'],
            ondelete='SET NULL',
        )
        batch_op.create_index(batch_op.f('ix_channel_partners_kyc_reviewed_by'), ['kyc_reviewed_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_channel_partners_kyc_status'), ['kyc_status'], unique=False)
        _set_status_check(batch_op, NEW_STATUSES)

    bind = op.get_bind()
    _new_codes(bind)
    _rewrite_account_numbers(_encrypt_once)

    with op.batch_alter_table('channel_partners', schema=None) as batch_op:
        batch_op.alter_column('code', existing_type=sa.String(length=12), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_channel_partners_code'), ['code'])


def downgrade():
    from app.crypto import decrypt

    bind = op.get_bind()
    # The old schema has no `inactive`: such partners go back to approved (they keep their leads and money).
    bind.execute(sa.text("UPDATE channel_partners SET status = 'approved' WHERE status = 'inactive'"))
    _rewrite_account_numbers(decrypt)
    with op.batch_alter_table('channel_partners', schema=None) as batch_op:
        _set_status_check(batch_op, OLD_STATUSES)
        batch_op.drop_constraint(batch_op.f('uq_channel_partners_code'), type_='unique')
        for check in ('ck_channel_partners_cp_tier', 'ck_channel_partners_payout_method', 'ck_channel_partners_kyc_status'):
            batch_op.drop_constraint(op.f(check), type_='check')
        batch_op.drop_index(batch_op.f('ix_channel_partners_kyc_status'))
        batch_op.drop_index(batch_op.f('ix_channel_partners_kyc_reviewed_by'))
        batch_op.drop_constraint(batch_op.f('fk_channel_partners_kyc_reviewed_by_users'), type_='foreignkey')
        batch_op.alter_column(
            'bank_account_number', existing_type=sa.Text(), type_=sa.String(length=60), existing_nullable=True
        )
        for column in ('kyc_note', 'kyc_reviewed_at', 'kyc_reviewed_by', 'kyc_status', 'tax_id', 'payout_method',
                       'bank_currency', 'bank_routing_number', 'bank_iban', 'cap_supplies', 'cap_buys', 'cap_works',
                       'cap_originates', 'monthly_lead_quota', 'tier', 'code'):
            batch_op.drop_column(column)
