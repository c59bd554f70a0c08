"""console incidents and reports: the reminder of a promised update; schools' problem reports

Revision ID: 0009_console_reports
Revises: 0008_scope_confirmed_preview
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import broadcast.core.dbtypes
from alembic import op


revision: str = '0009_console_reports'
down_revision: str | None = "0008_scope_confirmed_preview"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminded_for', broadcast.core.dbtypes.UtcDateTime(timezone=True), nullable=True))

    op.create_table('problem_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('service', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', broadcast.core.dbtypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=True),
    sa.Column('linked_at', broadcast.core.dbtypes.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['notice_id'], ['notice.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['reported_by_id'], ['operator.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('problem_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_problem_report_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_problem_report_notice_id'), ['notice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_problem_report_organisation_id'), ['organisation_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('problem_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_problem_report_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_problem_report_notice_id'))
        batch_op.drop_index(batch_op.f('ix_problem_report_created_at'))
    op.drop_table('problem_report')
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.drop_column('reminded_for')
