"""number cases and key their task rows by number: one B-tree per task row instead of two

Each case gets a `number` (1, 2, 3, ... in start order; a sequence on PostgreSQL) and each of its
engine_task rows the key `number * 2^32 + seq`. The rows of a case are then one range of the primary key,
in the order they were written, and on SQLite that key is the table's rowid: writing a row touches only
the table itself, where the (instance_id, task_id) primary key wrote a second B-tree of 72-character
entries at a random place for every row a step inserts or deletes. The step knows the key of every row
it rewrites (engine.cases.LiveCase.row_seqs), so nothing needs to look rows up by task id any more; the
instance_id and task_id columns stay for reading.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# engine.cases.SEQ_SPAN (2**32), written out in the statements below


def _row_key() -> sa.types.TypeEngine:
    # INTEGER PRIMARY KEY is SQLite's rowid (BIGINT PRIMARY KEY would be a separate index)
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.add_column("process_instance", sa.Column("number", sa.BigInteger(), nullable=True))
    # existing cases in start order (UPDATE ... FROM: SQLite 3.33+, one pass on both databases)
    op.execute(
        "UPDATE process_instance SET number = numbered.n FROM (SELECT id, ROW_NUMBER() OVER "
        "(ORDER BY started_at, id) AS n FROM process_instance) AS numbered WHERE numbered.id = process_instance.id"
    )
    with op.batch_alter_table("process_instance") as batch:
        batch.alter_column("number", existing_type=sa.BigInteger(), nullable=False)
        batch.create_index("ux_process_instance_number", ["number"], unique=True)
    if postgres:
        op.execute("CREATE SEQUENCE process_instance_number_seq")
        op.execute("SELECT setval('process_instance_number_seq', "
                   "COALESCE((SELECT MAX(number) FROM process_instance), 0) + 1, false)")

    op.create_table(
        "engine_task_keyed",
        sa.Column("row_key", _row_key(), nullable=False, autoincrement=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("workflow_id", sa.String(length=36), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("row_key"),
    )
    op.execute(
        "INSERT INTO engine_task_keyed (row_key, instance_id, task_id, workflow_id, body) "
        "SELECT p.number * 4294967296 + t.seq, t.instance_id, t.task_id, t.workflow_id, t.body "
        "FROM engine_task t JOIN process_instance p ON p.id = t.instance_id"
    )
    op.drop_table("engine_task")
    op.rename_table("engine_task_keyed", "engine_task")
    if postgres:
        op.execute("ALTER INDEX engine_task_keyed_pkey RENAME TO engine_task_pkey")


def downgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "engine_task_by_id",
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("workflow_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("instance_id", "task_id"),
    )
    op.execute(
        "INSERT INTO engine_task_by_id (instance_id, task_id, workflow_id, seq, body) "
        "SELECT instance_id, task_id, workflow_id, row_key % 4294967296, body FROM engine_task"
    )
    op.drop_table("engine_task")
    op.rename_table("engine_task_by_id", "engine_task")
    if bind.dialect.name == "postgresql":
        op.execute("ALTER INDEX engine_task_by_id_pkey RENAME TO engine_task_pkey")
        op.execute("DROP SEQUENCE process_instance_number_seq")
    with op.batch_alter_table("process_instance") as batch:
        batch.drop_index("ux_process_instance_number")
        batch.drop_column("number")
