"""full-text search and unread indexes

Revision ID: 0002_fts
Revises: 0001_initial

Search (app/engine/im/search.py) must find Chinese substrings, which have no word breaks, so
both databases index character trigrams:
- SQLite: FTS5 tables with the trigram tokenizer over comments.text and direct_messages.text.
  They are "external content" tables (they store only the index, reading the text from the
  message tables). New rows are indexed in bulk up to the mark kept in search_index_state
  (app/engine/im/search_index.py); triggers carry edits and deletions of indexed rows over.
  Notes for later migrations: rebuilding comments/direct_messages with batch_alter_table drops
  these triggers (recreate them), and autogenerate does not know the FTS and state tables
  (they are not in models.py): keep them out of its output.
- PostgreSQL: pg_trgm GIN indexes, which serve `text ILIKE '%term%'`. Creating the extension
  needs the right privilege; without it search still works, by scanning.

Both: a partial index on the topics that have unread messages, for the "unread only" topic
list (ordered by activity) and for the unread totals (which then read only the index).
"""
import logging

import sqlalchemy as sa
from alembic import op

revision = "0002_fts"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

MESSAGE_TABLES = ("comments", "direct_messages")
TOPIC_TABLES = ("contents", "conversations")
UNREAD = sa.text("unread_count > 0")


def upgrade() -> None:
    for topics in TOPIC_TABLES:
        # Ordered like the topic list; unread_count makes it cover the unread totals too.
        op.create_index(f"ix_{topics}_unread", topics, ["account_id", "last_message_at", "id", "unread_count"],
                        sqlite_where=UNREAD, postgresql_where=UNREAD)
    if op.get_bind().dialect.name == "sqlite":
        op.create_table(
            "search_index_state",
            sa.Column("table_name", sa.String(64), primary_key=True),
            sa.Column("indexed_upto", sa.BigInteger, nullable=False),  # highest row id indexed
        )
        for messages in MESSAGE_TABLES:
            _create_sqlite_fts(messages)
    else:
        schema = _pg_trgm_schema()
        if schema is None:
            log.warning("pg_trgm is not available: message search will scan instead of using an index")
            return
        for messages in MESSAGE_TABLES:
            op.execute(f'CREATE INDEX ix_{messages}_text_trgm ON {messages} '
                       f'USING gin (text "{schema}".gin_trgm_ops)')


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for messages in MESSAGE_TABLES:
            for suffix in ("ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {messages}_fts_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {messages}_fts")
        op.drop_table("search_index_state")
    else:
        for messages in MESSAGE_TABLES:
            op.execute(f"DROP INDEX IF EXISTS ix_{messages}_text_trgm")
    for topics in TOPIC_TABLES:
        op.drop_index(f"ix_{topics}_unread", table_name=topics)


def _create_sqlite_fts(messages: str) -> None:
    fts = f"{messages}_fts"
    op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5("
               f"text, content='{messages}', content_rowid='id', tokenize='trigram', columnsize=0)")
    op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")  # index the rows already there
    op.execute(sa.text("INSERT INTO search_index_state (table_name, indexed_upto) "
                       f"SELECT :name, coalesce(max(id), 0) FROM {messages}").bindparams(name=messages))
    # New rows are indexed in bulk by im/search_index.py, not by an INSERT trigger: FTS5
    # flushes its pending terms at every statement, so indexing row by row from a trigger
    # would triple the cost of storing a message. Changes to rows already indexed must reach
    # the index at once, though, hence these triggers.
    upto = f"(SELECT indexed_upto FROM search_index_state WHERE table_name = '{messages}')"
    op.execute(f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {messages} WHEN old.id <= {upto} BEGIN "
               f"INSERT INTO {fts}({fts}, rowid, text) VALUES ('delete', old.id, old.text); "
               # SQLite hands the highest ids out again once their rows are gone: lower the
               # mark to the highest id left, so such a new row is indexed as well.
               f"UPDATE search_index_state SET indexed_upto = (SELECT coalesce(max(id), 0) FROM {messages}) "
               f"WHERE table_name = '{messages}' AND indexed_upto > (SELECT coalesce(max(id), 0) FROM {messages}); "
               f"END")
    # Only when the text really changes: a re-crawl rewrites rows with the same text, and
    # read marks do not touch it at all.
    op.execute(f"CREATE TRIGGER {fts}_au AFTER UPDATE OF text ON {messages} "
               f"WHEN old.text IS NOT new.text AND old.id <= {upto} BEGIN "
               f"INSERT INTO {fts}({fts}, rowid, text) VALUES ('delete', old.id, old.text); "
               f"INSERT INTO {fts}(rowid, text) VALUES (new.id, new.text); END")


def _pg_trgm_schema() -> str | None:
    """The schema holding pg_trgm, creating the extension when allowed (None: unavailable)."""
    bind = op.get_bind()
    find = sa.text("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                   "WHERE e.extname = 'pg_trgm'")
    schema = bind.execute(find).scalar()
    if schema is None:
        try:
            with bind.begin_nested():  # a refusal must not abort the migration's transaction
                bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        except sa.exc.DBAPIError as e:
            log.warning("cannot create the pg_trgm extension: %s", str(e.orig).strip())
            return None
        schema = bind.execute(find).scalar()
    return schema
