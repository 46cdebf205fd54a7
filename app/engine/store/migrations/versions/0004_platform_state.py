"""Per-account platform state: the crawl's paging cursors and what it has seen

Revision ID: 0004_platform_state
Revises: 0003_topic_statistics

A platform's crawl position (which works are read up to which comment count, how far into
each reply thread, the last message of each conversation) was kept in dicts keyed by the
browser page, so it was lost at every hibernation and restart and every cycle after one
re-read everything; a crawl cut short started again from the top. One row per (account,
key), deleted with the account.
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_platform_state"
down_revision = "0003_topic_statistics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_state",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "key"),
    )


def downgrade() -> None:
    op.drop_table("platform_state")
