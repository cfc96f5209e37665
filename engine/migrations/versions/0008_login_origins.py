"""remember where each account signed in successfully (its known origins)

Failed sign-ins from elsewhere then no longer refuse the account's owner at an origin they signed in from
before (engine.identity.authn): several attacking addresses can throttle an account everywhere else, but
not lock its owner out at their own desk.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from engine.db.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_origin",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.Column("last_success_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "origin"),
    )


def downgrade() -> None:
    op.drop_table("login_origin")
