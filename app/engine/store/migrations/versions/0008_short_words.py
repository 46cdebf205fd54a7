"""search (PostgreSQL): an index of every message's one- and two-character pieces

Revision ID: 0008_short_words
Revises: 0007_drop_unused

Many Chinese words have two characters (退款, 发票). pg_trgm finds nothing shorter than a
trigram in its index, so such a word was found by reading the messages newest first and then,
when it was rare, every message: ~0.3-1 s at a million messages (EXPLAIN ANALYZE: a parallel
sequential scan of both tables filtering `text LIKE '%发票%'`).

Now each message table has a GIN index on `hiscrm_short_grams(text)`: the text's characters
and pairs of adjacent characters, lower-cased (search folds case the same way). A short word
is looked up as `hiscrm_short_grams(text) @> ARRAY[lower(word)]`, rechecked with LIKE. The
planner knows from the index's statistics how common each piece is, so a rare word is read
from this index (well under a millisecond) and a common one by walking the search key index
newest first, which fills a page at once. SQLite needs none of this (its index pads each text
so short words are found through its trigrams, migration 0006).

The function is written with built-in C functions only (no row loop: 0.03 ms a message, the
index takes about a minute to build at a million messages) and names pg_catalog's functions
in full, as a function in an index must not depend on the search path.
"""
from alembic import op

revision = "0008_short_words"
down_revision = "0007_drop_unused"
branch_labels = None
depends_on = None

INDEXES = {"comments": "ix_comments_short_grams", "direct_messages": "ix_dms_short_grams"}
# The characters, then the pairs starting at odd and at even positions (a last odd character
# stays alone: it is a character already), without the empty strings the splits leave at the
# ends. The pairs are cut by regexp_replace, which puts a control character after each pair
# (stored text never holds one: validation), and string_to_array, which splits there.
SHORT_GRAMS = r"""
CREATE FUNCTION hiscrm_short_grams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT pg_catalog.array_remove(
      pg_catalog.string_to_array(pg_catalog.lower(t), NULL)
      || pg_catalog.string_to_array(
          pg_catalog.regexp_replace(pg_catalog.lower(t), '(..)', E'\\1\x01', 'g'), E'\x01')
      || pg_catalog.string_to_array(
          pg_catalog.regexp_replace(pg_catalog.substr(pg_catalog.lower(t), 2), '(..)', E'\\1\x01', 'g'), E'\x01'),
      '')
$$"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(SHORT_GRAMS)
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")  # builds the GIN indexes in fewer passes
    for table, index in INDEXES.items():
        op.execute(f"CREATE INDEX {index} ON {table} USING gin (hiscrm_short_grams(text))")
        op.execute(f"ANALYZE {table}")  # the pieces' frequencies, which the planner weighs


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in INDEXES.values():
        op.execute(f"DROP INDEX IF EXISTS {index}")
    op.execute("DROP FUNCTION IF EXISTS hiscrm_short_grams(text)")
