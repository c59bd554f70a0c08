"""imports hardening: skipped elements and attempts counted on a run, room for refusals naming
columns; académie notice templates

Revision ID: 0007_imports_hardening
Revises: 0006_console_sign_in
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import broadcast.core.dbtypes
from alembic import op

revision: str = "0007_imports_hardening"
down_revision: str | None = "0006_console_sign_in"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("skipped", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.alter_column(
            "error", existing_type=sa.String(length=500), type_=sa.String(length=2000)
        )


    op.create_table(
        "academie_notice_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("exercise", sa.Boolean(), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("placeholders", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", broadcast.core.dbtypes.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", broadcast.core.dbtypes.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["operator.id"]),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organisation_id", "key"),
    )
    op.create_index(
        "ix_academie_notice_template_organisation_id",
        "academie_notice_template",
        ["organisation_id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_academie_notice_template_organisation_id", table_name="academie_notice_template"
    )
    op.drop_table("academie_notice_template")
    with op.batch_alter_table("import_run", schema=None) as batch_op:
        batch_op.alter_column(
            "error", existing_type=sa.String(length=2000), type_=sa.String(length=500)
        )
        batch_op.drop_column("attempts")
        batch_op.drop_column("skipped")
