"""mfa_credentials and mfa_recovery_codes: TOTP second factor (secret encrypted at rest) and hashed recovery codes

Revision ID: a1f0c0de0004
Revises: a1f0c0de0003
Create Date: 2027-01-10 10:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a1f0c0de0004'
down_revision = 'a1f0c0de0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'mfa_credentials',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('secret', sa.Text(), nullable=False),  # Fernet ciphertext (app/crypto.EncryptedText)
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('enabled_at', sa.DateTime(), nullable=True),
        sa.Column('last_used_step', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], name=op.f('fk_mfa_credentials_user_id_users'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_credentials')),
        sa.UniqueConstraint('user_id', name='uq_mfa_credentials_user_id'),
    )
    op.create_table(
        'mfa_recovery_codes',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], name=op.f('fk_mfa_recovery_codes_user_id_users'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_recovery_codes')),
        sa.UniqueConstraint('user_id', 'code_hash', name='uq_mfa_recovery_codes_user_code'),
    )


def downgrade():
    op.drop_table('mfa_recovery_codes')
    op.drop_table('mfa_credentials')
