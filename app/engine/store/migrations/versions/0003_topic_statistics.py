"""PostgreSQL: statistics on which topic belongs to which account

Revision ID: 0003_topic_statistics
Revises: 0002_fts

A topic id belongs to one account, so `account_id = ? AND platform_content_id = ?` matches
as many rows as the topic id alone. PostgreSQL assumes independent columns and multiplies
their selectivities: at a million messages it expected 36 rows of a topic that had 2,587, and
planned the newest message page as "fetch the whole topic, join every row, sort" (8 ms)
instead of reading the page backwards from the topic-time index (0.2 ms). Extended
statistics tell it the columns depend on each other. SQLite has no such statistics and plans
these queries from the indexes alone.
"""
from alembic import op

revision = "0003_topic_statistics"
down_revision = "0002_fts"
branch_labels = None
depends_on = None

TOPIC_COLUMNS = {"comments": "platform_content_id", "direct_messages": "platform_conversation_id"}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, topic in TOPIC_COLUMNS.items():
        op.execute(f"CREATE STATISTICS IF NOT EXISTS st_{table}_topic (ndistinct, dependencies) "
                   f"ON account_id, {topic} FROM {table}")
        op.execute(f"ANALYZE {table}")  # gather them now, not at the next autoanalyze


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TOPIC_COLUMNS:
        op.execute(f"DROP STATISTICS IF EXISTS st_{table}_topic")
