"""create job table: due timers and scheduled starts, claimed by workers with a lease

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from engine.db.types import JSONType, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("instance_id", sa.String(length=36),
                  sa.ForeignKey("process_instance.id", ondelete="CASCADE"), nullable=True),
        sa.Column("definition_id", sa.Integer(), sa.ForeignKey("process_definition.id"), nullable=True),
        sa.Column("payload", JSONType, nullable=True),
        sa.Column("task_id", sa.String(length=210), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("locked_by", sa.String(length=200), nullable=True),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("kind", "task_id", name="uq_job_kind_task"),
    )
    op.create_index("ix_job_due", "job", ["due_at"])
    op.create_index("ix_job_instance", "job", ["instance_id"])


def downgrade() -> None:
    op.drop_index("ix_job_instance", table_name="job")
    op.drop_index("ix_job_due", table_name="job")
    op.drop_table("job")
