"""Full-text search over comments and direct messages: newest first, a page at a time, each hit
with its account and topic, a plain-text snippet and where the terms are in it.

Chinese has no spaces between words, so a word index would not find 退款 inside 我想退款; both
databases therefore index character trigrams and match substrings (migrations 0002, 0004).
Hits are ordered by the search key (search_index.key_sql: time, then row), which both
databases index, so a page reads matches newest first and stops after one page; the cursor of
the next page is the last key shown (keyset paging: no gaps or repeats while messages arrive).

- SQLite: one FTS5 table (trigram tokenizer) whose rowid is the search key, filled in bulk
  shortly after each batch (search_index.py); rows stored since are read directly. Terms of
  3+ characters are FTS phrases. A shorter one (many Chinese words have two characters) has
  no trigram of its own; the index pads every text, so each of its occurrences begins a
  trigram, and it becomes an OR of the indexed trigrams that begin with it. When those are
  too many the word is common: it is checked with LIKE on the candidates, or, without longer
  terms, the rows are read newest first for a while (a common word fills a page at once),
  then, if the page is still not full, the rest of the table is scanned once.
- PostgreSQL: pg_trgm GIN indexes serve ILIKE '%term%' for terms of 3+ characters, a GIN
  index of each text's characters and character pairs (migration 0008) serves shorter ones,
  and a btree on the key serves the order; the planner picks one per query from its
  estimates of how common the terms are (planned for the actual terms, never a generic
  plan): a rare word from the GIN index, a common one by reading the key index newest first.

Every whitespace-separated term must occur (AND). Matching ignores ASCII case. The snippet is
plain text around the first match: the views show platform text as text, never as markup.
"""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from ..store.models import Account
from .messages import check_limit, message_select, to_message
from .search_index import indexed_upto, key_sql, split_key
from .tables import BOTH, TopicTables
from .topics import title_column
from .types import Page, SearchHit

MAX_TERMS = 8
MIN_TRIGRAM = 3  # the shortest term the trigram indexes can look up
SNIPPET_CHARS = 80
# Short terms only (SQLite): the newest rows read in key order before one scan of the rest.
# A word in one message of a hundred fills a page within this; rarer words are found faster
# by the scan than by an index walk.
SCAN_NEWEST = 20_000
# A short term is found through the trigrams that begin with it when they are at most this
# many (an OR of that many index terms still reads quickly); more make it a common word.
MAX_PREFIX_TRIGRAMS = 300
_CONTROL = re.compile("[\x00-\x1f\x7f]")  # includes search_index.PAD: it must not match the padding
_BY_KIND = {t.message_kind: t for t in BOTH}


def search_messages(
    session: Session, dialect: str, query: str, account_id: str | None, limit: int, cursor: str | None = None
) -> Page[SearchHit]:
    """Up to `limit` hits newest first; `page.after` is the cursor of the next (older) page."""
    check_limit(limit)
    below = parse_search_cursor(cursor)
    terms = parse_terms(query)
    if not terms or any(_CONTROL.search(term) for term in terms):
        return Page([], None, None)  # stored text holds no control characters (validation)
    find = _postgres_keys if dialect == "postgresql" else _sqlite_keys
    keys = find(session, _Query(dialect, terms, account_id, below), limit + 1)
    page = keys[:limit]
    return Page(_hits(session, page, terms), before=None,
                after=str(page[-1]) if len(keys) > limit else None)


def parse_search_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        key = int(cursor)
    except (TypeError, ValueError):
        key = None
    if key is None or not -(2**63) <= key < 2**63:
        raise ValueError(f"invalid search cursor {cursor!r}")
    return key


def parse_terms(query: str) -> list[str]:
    """The distinct whitespace-separated terms of a query (at most MAX_TERMS)."""
    return list(dict.fromkeys(query.split()))[:MAX_TERMS]


def snippet(text_: str, terms: list[str], width: int = SNIPPET_CHARS) -> str:
    """About `width` characters of `text_` on one line around the first matching term."""
    match = _terms_pattern(terms).search(text_) if terms else None
    at = match.start() if match else 0
    start = max(0, min(at - width // 4, len(text_) - width))
    end = min(len(text_), start + width)
    piece = " ".join(text_[start:end].split())
    return ("…" if start > 0 else "") + piece + ("…" if end < len(text_) else "")


def highlights(piece: str, terms: list[str]) -> tuple[tuple[int, int], ...]:
    """(start, length) of every occurrence of a term in `piece`, in order, never overlapping."""
    if not terms:
        return ()
    # Longest first, so "退款" inside "退款流程" highlights the whole of the longer term.
    pattern = _terms_pattern(sorted(terms, key=len, reverse=True))
    return tuple((m.start(), m.end() - m.start()) for m in pattern.finditer(piece))


def _terms_pattern(terms: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(term) for term in terms), re.IGNORECASE)


class _Query:
    """A search's terms and filters, as SQL conditions and their parameters."""

    def __init__(self, dialect: str, terms: list[str], account_id: str | None, below: int | None) -> None:
        self.dialect = dialect
        self.indexed = [term for term in terms if len(term) >= MIN_TRIGRAM]
        self.short = [term for term in terms if len(term) < MIN_TRIGRAM]
        self.terms = terms
        self.account_id = account_id
        self.below = below
        self.params: dict[str, Any] = {f"t{i}": _like_pattern(term) for i, term in enumerate(terms)}
        self.params.update({f"g{i}": term for i, term in enumerate(terms) if term in self.short})
        self.params.update(account=account_id, below=below)

    def like(self, column: str, terms: list[str]) -> list[str]:
        return [f"{column} {self._op(term)} :t{self.terms.index(term)} ESCAPE '\\'" for term in terms]

    def _op(self, term: str) -> str:
        """SQLite's LIKE ignores ASCII case; PostgreSQL's needs ILIKE for that, which costs
        twice as much per row, so only for terms that have case (not for 退款 or 100%)."""
        return "ILIKE" if self.dialect == "postgresql" and term.lower() != term.upper() else "LIKE"

    def filters(self, t: TopicTables) -> list[str]:
        """Conditions on message rows of `t`: every term, the account and the cursor (on
        PostgreSQL, also the short terms' lookup in the index of character pairs)."""
        found = self.like("text", self.terms)
        if self.dialect == "postgresql" and self.short:
            pieces = ", ".join(f"lower(:g{self.terms.index(term)})" for term in self.short)
            found.append(f"hiscrm_short_grams(text) @> ARRAY[{pieces}]")
        if self.account_id is not None:
            found.append("account_id = :account")
        if self.below is not None:
            found.append(f"{key_sql(t)} < :below")
        return found


def _sqlite_keys(session: Session, q: _Query, n: int) -> list[int]:
    # A short term is looked up through the trigrams that begin with it, unless there are so
    # many that it is common: then the rows are read newest first and soon fill a page.
    groups: dict[str, list[str]] = {}
    for term in q.short:
        trigrams = _trigrams_beginning(session, term)
        if trigrams is not None:
            groups[term] = trigrams
    if q.indexed or groups:
        absent = any(not trigrams for trigrams in groups.values())  # in no indexed message
        keys = [] if absent else _fts_keys(session, q, groups, n)
        for t in BOTH:  # stored since the last indexing pass (a few rows)
            name = t.message.__tablename__
            where = ["id > :upto", *q.filters(t)]
            keys += _keys(session, f"SELECT {key_sql(t)} AS key FROM {name} NOT INDEXED WHERE {' AND '.join(where)} "
                                   f"ORDER BY key DESC LIMIT :n", dict(q.params, n=n, upto=indexed_upto(session, name)))
    else:
        keys = [key for t in BOTH for key in _scan_keys(session, q, t, n)]
    return sorted(set(keys), reverse=True)[:n]


def _trigrams_beginning(session: Session, term: str) -> list[str] | None:
    """The indexed trigrams that begin with `term` (shorter than a trigram; the index pads
    every text, so each occurrence begins one), or None when there are too many to OR."""
    folded = term.lower()  # as the trigram tokenizer folds case
    found = session.execute(
        text("SELECT term FROM message_search_vocab WHERE term >= :start AND term < :stop LIMIT :most"),
        {"start": folded, "stop": folded + "\U0010ffff", "most": MAX_PREFIX_TRIGRAMS + 1},
    ).scalars().all()
    return None if len(found) > MAX_PREFIX_TRIGRAMS else list(found)


def _fts_keys(session: Session, q: _Query, groups: dict[str, list[str]], n: int) -> list[int]:
    """Keys of indexed matches, newest first: FTS5 reads its rowids (the keys) in order, and
    the rows are only looked up for what the index cannot check (common short terms, the
    account)."""
    parts = [_phrase(term) for term in q.indexed]
    parts += ["(" + " OR ".join(_phrase(trigram) for trigram in trigrams) + ")" for trigrams in groups.values()]
    unchecked = [term for term in q.short if term not in groups]
    where = ["message_search MATCH :match"] + (["f.rowid < :below"] if q.below is not None else [])
    joins = ""
    if unchecked or q.account_id is not None:
        row = "((f.rowid & 4294967295) >> 1)"
        joins = (f" LEFT JOIN comments c ON (f.rowid & 1) = 0 AND c.id = {row}"
                 f" LEFT JOIN direct_messages d ON (f.rowid & 1) = 1 AND d.id = {row}")
        where += q.like("coalesce(c.text, d.text)", unchecked)
        if q.account_id is not None:
            where.append("coalesce(c.account_id, d.account_id) = :account")
    sql = (f"SELECT f.rowid FROM message_search f{joins} WHERE {' AND '.join(where)} "
           "ORDER BY f.rowid DESC LIMIT :n")
    return _keys(session, sql, dict(q.params, match=" AND ".join(parts), n=n))


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _scan_keys(session: Session, q: _Query, t: TopicTables, n: int) -> list[int]:
    """Keys of the matches of short terms only in `t`, newest first: the newest SCAN_NEWEST
    rows in key order, then (if the page is not full) one scan of the older rows."""
    name, key = t.message.__tablename__, key_sql(t)
    params = dict(q.params, n=n)
    if q.account_id is not None:  # an account's rows come from its own index: scan them all
        where = " AND ".join(q.filters(t))
        return _keys(session, f"SELECT {key} AS key FROM {name} WHERE {where} ORDER BY key DESC LIMIT :n", params)
    below = "" if q.below is None else f"WHERE {key} < :below"
    floor = session.execute(text(f"SELECT {key} FROM {name} {below} ORDER BY {key} DESC LIMIT 1 OFFSET :skip"),
                            dict(params, skip=SCAN_NEWEST - 1)).scalar()
    likes = q.like("text", q.short)
    window = likes + ([] if q.below is None else [f"{key} < :below"]) + ([] if floor is None else [f"{key} >= :floor"])
    found = _keys(session, f"SELECT {key} AS key FROM {name} WHERE {' AND '.join(window)} ORDER BY key DESC LIMIT :n",
                  dict(params, floor=floor))
    if len(found) >= n or floor is None:  # a full page, or the window held every row
        return found
    # One pass over the table (NOT INDEXED): walking the key index instead would visit every
    # row in index order.
    older = " AND ".join(likes + [f"{key} < :floor"])
    return found + _keys(session, f"SELECT {key} AS key FROM {name} NOT INDEXED WHERE {older} ORDER BY key DESC LIMIT :n",
                         dict(params, floor=floor, n=n - len(found)))


def _postgres_keys(session: Session, q: _Query, n: int) -> list[int]:
    # Plan for these very terms: whether to walk the key index or to collect the trigram
    # index's matches depends on how common they are, which a generic plan of a prepared
    # statement (psycopg prepares a statement run five times) cannot know: it walked the
    # index for a rare term, two seconds at a million messages instead of three milliseconds.
    session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    parts = [f"(SELECT {key_sql(t)} AS key FROM {t.message.__tablename__} "
             f"WHERE {' AND '.join(q.filters(t))} ORDER BY {key_sql(t)} DESC LIMIT :n)"
             for t in BOTH]
    return _keys(session, " UNION ALL ".join(parts) + " ORDER BY key DESC LIMIT :n", dict(q.params, n=n))


def _keys(session: Session, sql: str, params: dict[str, Any]) -> list[int]:
    return [row[0] for row in session.execute(text(sql), params)]


def _hits(session: Session, keys: list[int], terms: list[str]) -> list[SearchHit]:
    """The hits of these keys, in their order (a message deleted meanwhile is left out)."""
    wanted: dict[str, list[int]] = {}
    for key in keys:
        kind, row_id = split_key(key)
        wanted.setdefault(kind, []).append(row_id)
    rows: dict[tuple[str, int], Any] = {}
    for kind, ids in wanted.items():
        t = _BY_KIND[kind]
        m, T = t.message, t.topic
        stmt = (message_select(t)
                .add_columns(Account.display_name.label("account_name"), title_column(t).label("topic_title"))
                .join(Account, Account.id == m.account_id)
                .outerjoin(T, (T.account_id == m.account_id) & (t.topic_key == t.message_topic))
                .where(m.id.in_(ids)))
        rows.update(((kind, row.row_id), row) for row in session.execute(stmt))
    hits = []
    for key in keys:
        kind, row_id = split_key(key)
        row = rows.get((kind, row_id))
        if row is None:
            continue
        piece = snippet(row.text, terms)
        t = _BY_KIND[kind]
        hits.append(SearchHit(
            message=to_message(t, row), snippet=piece, highlights=highlights(piece, terms),
            account_name=row.account_name, topic_title=row.topic_title or row.topic_id))
    return hits


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
