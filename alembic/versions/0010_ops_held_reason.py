"""ops: why a broadcast's sending is held (a provider account refusing our credentials), and
which provider account sent each delivery

Revision ID: 0010_ops_held_reason
Revises: 0009_console_reports
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op


revision: str = '0010_ops_held_reason'
down_revision: str | None = "0009_console_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('broadcast', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('held_reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('provider_account', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_column('provider_account')
    with op.batch_alter_table('broadcast', schema=None) as batch_op:
        batch_op.drop_column('held_reason')
