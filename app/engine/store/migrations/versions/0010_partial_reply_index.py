"""messages: the reply_id indexes hold only the rows linked to an outbox reply

Revision ID: 0010_partial_reply_index
Revises: 0009_reply_wait_code

A message row names our outbox reply (reply_id) only when it is the platform's copy of one
of our replies: a few rows in thousands. The full indexes of 0001 still took an entry for
every other row (a NULL), one more index to write per stored message (about 3 µs of the
writer's ~60 µs a message, bench/README.md). Every lookup by reply_id asks for a value
(`reply_id = :id`, `reply_id IS NOT NULL`), which both databases answer from an index WHERE
reply_id IS NOT NULL; the names stay.
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_partial_reply_index"
down_revision = "0009_reply_wait_code"
branch_labels = None
depends_on = None

INDEXES = {"comments": "ix_comments_reply_id", "direct_messages": "ix_direct_messages_reply_id"}
LINKED = sa.text("reply_id IS NOT NULL")


def upgrade() -> None:
    for table, index in INDEXES.items():
        op.drop_index(index, table_name=table)
        op.create_index(index, table, ["reply_id"], sqlite_where=LINKED, postgresql_where=LINKED)


def downgrade() -> None:
    for table, index in INDEXES.items():
        op.drop_index(index, table_name=table)
        op.create_index(index, table, ["reply_id"])
