"""narrow inbox and task indexes: drop the indexes no query needs, keep pending notices in a partial index

Every step writes human_task and engine_task rows, and SQLite (like PostgreSQL) updates every index over
a written column. Removed here, each with the index that serves its queries instead:

- ix_human_task_state_due, ix_human_task_state_priority: inbox lookups by state are served by
  ix_human_task_state_created (same leading column); neither could order the inbox ("due" sorts by
  `due_at IS NULL` first, "priority" by priority then created_at), so they only cost writes.
- ix_engine_task_instance_seq: a case's task rows are found through the primary key
  (instance_id, task_id); ordering one case's rows by seq is a small sort, and it only happens when a
  case is restored (not cached), while the index was written for every new task row.
- ix_notification_email_state becomes ix_notification_email_pending, over pending notices only (the mailer
  asks for exactly `email_state = 'pending'`), so sent notices leave the index instead of moving in it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PENDING = "email_state = 'pending'"


def upgrade() -> None:
    op.drop_index("ix_human_task_state_due", table_name="human_task")
    op.drop_index("ix_human_task_state_priority", table_name="human_task")
    op.drop_index("ix_engine_task_instance_seq", table_name="engine_task")
    op.drop_index("ix_notification_email_state", table_name="notification")
    op.create_index("ix_notification_email_pending", "notification", ["id"],
                    sqlite_where=sa.text(PENDING), postgresql_where=sa.text(PENDING))


def downgrade() -> None:
    op.drop_index("ix_notification_email_pending", table_name="notification")
    op.create_index("ix_notification_email_state", "notification", ["email_state", "id"])
    op.create_index("ix_engine_task_instance_seq", "engine_task", ["instance_id", "seq"])
    op.create_index("ix_human_task_state_priority", "human_task", ["state", "priority"])
    op.create_index("ix_human_task_state_due", "human_task", ["state", "due_at"])
