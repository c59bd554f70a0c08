"""scope: the preview recorded when a broadcast is confirmed

Revision ID: 0008_scope_confirmed_preview
Revises: 0007_imports_hardening
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op


revision: str = '0008_scope_confirmed_preview'
down_revision: str | None = "0007_imports_hardening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('broadcast', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed_preview', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('broadcast', schema=None) as batch_op:
        batch_op.drop_column('confirmed_preview')
