"""imports hardening: skipped elements and attempts counted on a run, room for refusals naming
columns

Revision ID: 0006_imports_hardening
Revises: 0005_status_pages
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006_imports_hardening"
down_revision: str | None = "0005_status_pages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("skipped", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.alter_column(
            "error", existing_type=sa.String(length=500), type_=sa.String(length=2000)
        )


def downgrade() -> None:
    with op.batch_alter_table("import_run", schema=None) as batch_op:
        batch_op.alter_column(
            "error", existing_type=sa.String(length=2000), type_=sa.String(length=500)
        )
        batch_op.drop_column("attempts")
        batch_op.drop_column("skipped")
