"""search newest first: a time-ordered search key, one SQLite index over both message kinds

Revision ID: 0006_search
Revises: 0005_record_aliases

Search lists hits newest first, a page at a time. At a million messages a common word matches
tens of thousands of them; fetching every match and sorting it took 0.3–1 s. Both databases
now order by a *search key*, one 64-bit integer per message that sorts like its time:

    (created_at in s - 2020-01-01) * 2^32 + id * 2 + kind        (kind: 0 comment, 1 DM)

It is unique without being stored (ids are 31-bit), so it can be an FTS5 rowid, and a page is
"the next N keys below the cursor": the index is read newest first and stops after N matches.
Messages of the same second are in storage order. app/engine/im/search_index.py computes the
same expression for the queries; it must stay textually equal to the one indexed here, or the
databases stop using these indexes (tests/engine/im/test_views_plans.py notices).

- Both: an expression index on the key of each message table (newest-first scans for terms
  too short for a trigram, and on PostgreSQL for every search: pg_trgm's GIN index cannot
  return rows in order, and the planner now weighs "walk the key index backwards" against
  "collect every match and sort").
- SQLite: 0002's two FTS5 tables (rowid = message id) become one, message_search, whose rowid
  is the search key: FTS5 returns rowids in order, so ORDER BY rowid DESC LIMIT N is cheap.
  It is an external-content table over the view message_search_content. New rows are still
  indexed in bulk by im/search_index.py up to the marks in search_index_state, and triggers
  still carry edits and deletions of indexed rows over (now also a change of created_at,
  which moves the key). Rebuilding the index takes under a minute at a million messages.
  Each text is indexed with two padding characters after it (PAD: stored text never holds
  control characters), so every occurrence of a one- or two-character word begins a
  trigram; search finds such words through the trigrams that begin with them, listed by
  the fts5vocab table message_search_vocab, instead of reading every message.
"""
import importlib.util
from pathlib import Path

from alembic import op

revision = "0006_search"
down_revision = "0005_record_aliases"
branch_labels = None
depends_on = None

KINDS = {"comments": 0, "direct_messages": 1}
INDEXES = {"comments": "ix_comments_search_key", "direct_messages": "ix_dms_search_key"}
EPOCH_S = 1577836800  # 2020-01-01T00:00:00Z: the key's seconds fit 31 bits until 2088
PAD = "char(1, 1)"  # appended to every indexed text (SQL)


def key_sql(kind: int, prefix: str = "") -> str:
    """The search key of a message row (`prefix`: e.g. "old." in a trigger)."""
    return (f"(({prefix}created_at / 1000 - {EPOCH_S}) * 4294967296 "
            f"+ CAST({prefix}id AS BIGINT) * 2 + {kind})")


def upgrade() -> None:
    for table, kind in KINDS.items():
        op.execute(f"CREATE INDEX {INDEXES[table]} ON {table} ({key_sql(kind)})")
    if op.get_bind().dialect.name == "postgresql":
        for table in KINDS:
            op.execute(f"ANALYZE {table}")  # statistics of the new expression
        return
    for table in KINDS:
        for suffix in ("ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {table}_fts")
    op.execute("CREATE VIEW message_search_content AS " + " UNION ALL ".join(
        f"SELECT {key_sql(kind)} AS key, text || {PAD} AS text FROM {table}" for table, kind in KINDS.items()))
    op.execute("CREATE VIRTUAL TABLE message_search USING fts5(text, content='message_search_content', "
               "content_rowid='key', tokenize='trigram', columnsize=0)")
    op.execute("CREATE VIRTUAL TABLE message_search_vocab USING fts5vocab(message_search, 'row')")
    op.execute("INSERT INTO message_search(message_search) VALUES ('rebuild')")
    for table, kind in KINDS.items():
        op.execute(f"UPDATE search_index_state SET indexed_upto = (SELECT coalesce(max(id), 0) FROM {table}) "
                   f"WHERE table_name = '{table}'")
        _create_triggers(table, kind)


def _create_triggers(table: str, kind: int) -> None:
    """Edits and deletions of indexed rows reach the index at once (new rows are indexed in bulk)."""
    upto = f"(SELECT indexed_upto FROM search_index_state WHERE table_name = '{table}')"
    delete_old = (f"INSERT INTO message_search(message_search, rowid, text) "
                  f"VALUES ('delete', {key_sql(kind, 'old.')}, old.text || {PAD});")
    op.execute(f"CREATE TRIGGER {table}_search_ad AFTER DELETE ON {table} WHEN old.id <= {upto} BEGIN "
               f"{delete_old} "
               # SQLite hands the highest ids out again once their rows are gone: lower the
               # mark to the highest id left, so such a new row is indexed as well.
               f"UPDATE search_index_state SET indexed_upto = (SELECT coalesce(max(id), 0) FROM {table}) "
               f"WHERE table_name = '{table}' AND indexed_upto > (SELECT coalesce(max(id), 0) FROM {table}); "
               f"END")
    # Only when the text or the time really changes: a re-crawl rewrites rows unchanged, and
    # read marks touch neither.
    op.execute(f"CREATE TRIGGER {table}_search_au AFTER UPDATE OF text, created_at ON {table} "
               f"WHEN (old.text IS NOT new.text OR old.created_at IS NOT new.created_at) AND old.id <= {upto} "
               f"BEGIN {delete_old} "
               f"INSERT INTO message_search(rowid, text) VALUES ({key_sql(kind, 'new.')}, new.text || {PAD}); END")


def downgrade() -> None:
    for table in KINDS:
        op.execute(f"DROP INDEX IF EXISTS {INDEXES[table]}")
    if op.get_bind().dialect.name == "postgresql":
        return
    for table in KINDS:
        for suffix in ("ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_search_{suffix}")
    op.execute("DROP TABLE IF EXISTS message_search_vocab")
    op.execute("DROP TABLE IF EXISTS message_search")
    op.execute("DROP VIEW IF EXISTS message_search_content")
    op.execute("DELETE FROM search_index_state")  # 0002 fills it in again
    previous = _revision("0002_fts.py")
    for table in KINDS:
        previous._create_sqlite_fts(table)


def _revision(file_name: str):
    """An earlier migration's module (revision files are not importable by name)."""
    spec = importlib.util.spec_from_file_location(f"_revision_{Path(file_name).stem}", Path(__file__).with_name(file_name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
