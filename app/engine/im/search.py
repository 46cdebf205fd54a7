"""Full-text search over comments and direct messages, newest first, with a plain-text snippet.

Chinese has no spaces between words, so a word index would not find 退款 inside 我想退款; both
databases therefore index character trigrams and match substrings (migration 0002):

- SQLite: FTS5 tables with the trigram tokenizer (comments_fts, direct_messages_fts), filled
  in bulk shortly after each batch (search_index.py); rows stored since are read directly.
  A term of 3+ characters is an FTS phrase query; a shorter one (many Chinese words have two
  characters) has no trigram to look up and is checked with LIKE on the rows the other terms
  (or the account filter) leave.
- PostgreSQL: pg_trgm GIN indexes on the text columns, which serve ILIKE '%term%'.

Every whitespace-separated term must occur (AND). Matching ignores ASCII case. The snippet is
plain text around the first match: the views show platform text as text, never as markup.
"""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import column, select, table
from sqlalchemy.orm import Session

from .messages import check_limit, message_select, to_message
from .search_index import indexed_upto
from .tables import BOTH, TopicTables
from .types import SearchHit

MAX_TERMS = 8
MIN_TRIGRAM = 3  # the shortest term the trigram indexes can look up
SNIPPET_CHARS = 80


def search_messages(
    session: Session, dialect: str, query: str, account_id: str | None, limit: int
) -> list[SearchHit]:
    check_limit(limit)
    terms = parse_terms(query)
    if not terms:
        return []
    found = []
    for t in BOTH:
        m = t.message
        for conditions in _alternatives(session, t, dialect, terms):
            stmt = message_select(t).where(*conditions)
            if account_id is not None:
                stmt = stmt.where(m.account_id == account_id)
            stmt = stmt.order_by(m.created_at.desc(), m.id.desc()).limit(limit)
            found += [(t, row) for row in session.execute(stmt)]
    found.sort(key=lambda hit: (hit[1].created_ms, hit[1].row_id), reverse=True)
    return [SearchHit(to_message(t, row), snippet(row.text, terms)) for t, row in found[:limit]]


def parse_terms(query: str) -> list[str]:
    """The distinct whitespace-separated terms of a query (at most MAX_TERMS)."""
    return list(dict.fromkeys(query.split()))[:MAX_TERMS]


def snippet(text: str, terms: list[str], width: int = SNIPPET_CHARS) -> str:
    """About `width` characters of `text` on one line around the first matching term."""
    pattern = "|".join(re.escape(term) for term in terms)
    match = re.search(pattern, text, re.IGNORECASE) if pattern else None
    at = match.start() if match else 0
    start = max(0, min(at - width // 4, len(text) - width))
    end = min(len(text), start + width)
    piece = " ".join(text[start:end].split())
    return ("…" if start > 0 else "") + piece + ("…" if end < len(text) else "")


def _alternatives(session: Session, t: TopicTables, dialect: str, terms: list[str]) -> list[list[Any]]:
    """WHERE clauses whose results together are the matches in `t` (each a list of ANDed
    conditions; they never match the same row)."""
    m = t.message
    if dialect == "postgresql":
        return [[m.text.ilike(_like_pattern(term), escape="\\") for term in terms]]
    like_all = [m.text.like(_like_pattern(term), escape="\\") for term in terms]
    indexed = [term for term in terms if len(term) >= MIN_TRIGRAM]
    if not indexed:
        return [like_all]
    fts = table(f"{m.__tablename__}_fts", column("rowid"), column("text"))
    phrases = " ".join('"' + term.replace('"', '""') + '"' for term in indexed)
    short = [m.text.like(_like_pattern(term), escape="\\") for term in terms if len(term) < MIN_TRIGRAM]
    upto = indexed_upto(session, m.__tablename__)
    return [
        [m.id.in_(select(fts.c.rowid).where(fts.c.text.match(phrases))), *short],
        [m.id > upto, *like_all],  # stored since the last indexing pass (a few rows)
    ]


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
