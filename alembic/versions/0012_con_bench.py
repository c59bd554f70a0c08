"""con-bench: the deliveries of one broadcast in id order, for the send's page

The send's page lists a broadcast's deliveries 50 at a time in id order; without this index
PostgreSQL walks the primary key from the first delivery of every broadcast (140 ms for the
last send of a ledger of 1.1 million rows, under a millisecond with it).

Revision ID: 0012_con_bench
Revises: 0010_ops_held_reason
Create Date: 2026-12-03
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0012_con_bench'
down_revision: str | None = "0010_ops_held_reason"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index('ix_delivery_broadcast_id_id', ['broadcast_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_broadcast_id_id')
