"""replies.wait_code: why a queued reply waits, as a code the console says in its language

Revision ID: 0009_reply_wait_code
Revises: 0008_short_words

A reply whose account's worker is not connected to this server waits in the queue without
being attempted (AccountHolders.waiting_reason). Its reason was kept only as English words
in error_message (which the IM protocol carries as they are); the console needs a code to
show it in the operator's language. error_code cannot carry it: it says whether an earlier
attempt may have reached the platform.
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_reply_wait_code"
down_revision = "0008_short_words"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("replies", sa.Column("wait_code", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("replies") as batch:
        batch.drop_column("wait_code")
