"""create notification table and user email: task and deadline notices, shown in the inbox and mailed

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from engine.db.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("email", sa.String(length=320), nullable=True))
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=True),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("recipient_kind", sa.String(length=5), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("email_state", sa.String(length=10), nullable=False),
        sa.Column("email_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("email_error", sa.Text(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_notification_recipient", "notification", ["recipient_kind", "recipient", "id"])
    op.create_index("ix_notification_email_state", "notification", ["email_state", "id"])


def downgrade() -> None:
    op.drop_index("ix_notification_email_state", table_name="notification")
    op.drop_index("ix_notification_recipient", table_name="notification")
    op.drop_table("notification")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("email")
