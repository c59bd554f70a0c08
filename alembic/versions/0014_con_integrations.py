"""con-integrations: an API key carries its own role and organisation

A key created in the console acts with a role and at an organisation chosen within its
creator's (never above them); the keys made before act as their operator, copied here.

Revision ID: 0014_con_integrations
Revises: 0013_con_operators
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "0014_con_integrations"
down_revision: str | None = "0013_con_operators"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
    op.execute(
        "UPDATE api_key SET"
        " organisation_id = (SELECT organisation_id FROM operator WHERE operator.id = api_key.operator_id),"
        " role = (SELECT role FROM operator WHERE operator.id = api_key.operator_id)"
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.alter_column("organisation_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column(
            "role", existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False
        )
        batch_op.create_index(
            batch_op.f("ix_api_key_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_foreign_key(
            "fk_api_key_organisation_id_organisation", "organisation", ["organisation_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_constraint("fk_api_key_organisation_id_organisation", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_api_key_organisation_id"))
        batch_op.drop_column("role")
        batch_op.drop_column("organisation_id")
