"""lead imports: a stored-file kind of their own (the importing partner may read it) and a notification reference

Revision ID: a1f0c0de0009
Revises: a1f0c0de0008
Create Date: 2026-12-07 05:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1f0c0de0009'
down_revision = 'a1f0c0de0008'
branch_labels = None
depends_on = None

FILE_KINDS = ('evidence', 'bank_slip', 'client_payment', 'payment_receipt', 'logo', 'avatar', 'category_image',
              'content_image', 'report')
REFERENCE_TYPES = ('lead', 'commission', 'cp', 'announcement', 'payment', 'settlement')


def _set_check(table, name, column, values):
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(name), type_='check')
        batch_op.create_check_constraint(op.f(name), sa.column(column).in_(values))


def upgrade():
    _set_check('stored_files', 'ck_stored_files_file_kind', 'kind', (*FILE_KINDS, 'lead_import'))
    _set_check('notifications', 'ck_notifications_reference_type', 'reference_type', (*REFERENCE_TYPES, 'lead_import'))


def downgrade():
    op.execute("DELETE FROM notifications WHERE reference_type = 'lead_import'")
    op.execute("DELETE FROM stored_files WHERE kind = 'lead_import'")  # and their imports, by cascade
    _set_check('notifications', 'ck_notifications_reference_type', 'reference_type', REFERENCE_TYPES)
    _set_check('stored_files', 'ck_stored_files_file_kind', 'kind', FILE_KINDS)
