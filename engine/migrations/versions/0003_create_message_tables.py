"""create message tables: what cases wait for, and delivered messages by idempotency key

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from engine.db.types import JSONType, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_wait",
        sa.Column("task_id", sa.String(length=36), primary_key=True),
        sa.Column("instance_id", sa.String(length=36),
                  sa.ForeignKey("process_instance.id", ondelete="CASCADE"), nullable=False),
        sa.Column("message_name", sa.String(length=200), nullable=False),
    )
    op.create_index("ix_message_wait_name", "message_wait", ["message_name"])
    op.create_index("ix_message_wait_instance", "message_wait", ["instance_id"])
    op.create_table(
        "message_receipt",
        sa.Column("idempotency_key", sa.String(length=200), primary_key=True),
        sa.Column("message_name", sa.String(length=200), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("result", JSONType, nullable=False),
        sa.Column("received_by", sa.String(length=200), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("message_receipt")
    op.drop_index("ix_message_wait_instance", table_name="message_wait")
    op.drop_index("ix_message_wait_name", table_name="message_wait")
    op.drop_table("message_wait")
