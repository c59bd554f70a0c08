"""con-operators: one-time links (invitation, password reset) and the last sign-in

An operator is invited, or resets his password, by a link emailed to him; the table keeps the
SHA-256 of the link's token only. The operators' list shows when each last signed in.

Revision ID: 0013_con_operators
Revises: 0012_con_bench
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import broadcast.core.dbtypes
from alembic import op


revision: str = '0013_con_operators'
down_revision: str | None = '0012_con_bench'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('operator', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_signed_in_at', broadcast.core.dbtypes.UtcDateTime(timezone=True), nullable=True))

    op.create_table('operator_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', broadcast.core.dbtypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', broadcast.core.dbtypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('used_at', broadcast.core.dbtypes.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['operator_id'], ['operator.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('operator_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_operator_link_operator_id'), ['operator_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('operator_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_operator_link_operator_id'))
    op.drop_table('operator_link')
    with op.batch_alter_table('operator', schema=None) as batch_op:
        batch_op.drop_column('last_signed_in_at')
