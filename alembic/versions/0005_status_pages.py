"""status pages: services, next update and exercise flag on notices; email follow requests

Revision ID: 0005_status_pages
Revises: 0004
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import broadcast.core.dbtypes
from alembic import op


revision: str = '0005_status_pages'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_exercise', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('services', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('next_update_at', broadcast.core.dbtypes.UtcDateTime(timezone=True), nullable=True))

    op.create_table('email_follow_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('locale', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('created_at', broadcast.core.dbtypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', broadcast.core.dbtypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', broadcast.core.dbtypes.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('email_follow_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_follow_request_organisation_id'), ['organisation_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('email_follow_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_follow_request_organisation_id'))
    op.drop_table('email_follow_request')
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.drop_column('next_update_at')
        batch_op.drop_column('services')
        batch_op.drop_column('is_exercise')
