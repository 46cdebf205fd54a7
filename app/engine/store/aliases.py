"""Records under another of their ids: the platform's second id system (records.aliases).

Some platforms name one thing by two ids (Douyin: a work by its numeric id and an encrypted
`item_id`; a comment by its V1 `@j…` id and its V2 numeric `cid`). Before a batch is merged,
every record is re-keyed to the row already stored for it under any of its ids, and the ids
it brings are remembered (`record_aliases`), so:
- a record whose own id is a known alias updates the row it is an alias of;
- a record carrying an alias that is a stored row's id (or a known alias) updates that row,
  and its own id becomes an alias of it;
- a comment's work, a message's conversation and a comment's parent given in another id
  system point to the stored row.
The first id a thing was stored under stays its id: ids held elsewhere (the outbox, open
views) never change. An alias already taken by another row is not moved.
"""
from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Any, Iterable

from pydantic import BaseModel
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .counters import CHUNK
from .keys import stored_keys
from .models import RecordAlias

if TYPE_CHECKING:
    from .merge import Kind

OWN_ID = "record_id"  # the system name given to a record's own id when it becomes an alias


def resolve_aliases(
    session: Session, account_id: str, kinds: Iterable["Kind"], records: dict["Kind", list[BaseModel]],
    topic_of: dict[str, "Kind"], comments: "Kind",
) -> dict["Kind", list[BaseModel]]:
    """`records` re-keyed to their stored rows (see the module doc); new aliases are added
    to the session. Kinds are handled in `kinds` order, topics before their messages."""
    kinds = [k for k in kinds if records.get(k)]
    carry = attrgetter("aliases")
    if not any(any(map(carry, records[k])) for k in kinds) and not _has_aliases(session, account_id):
        return records  # the common case (platforms with one id system): one indexed probe
    wanted: set[str] = set()
    for kind in kinds:
        for record in records[kind]:
            wanted.add(getattr(record, kind.key))
            wanted.update(record.aliases.values())
            if kind.is_message:
                wanted.add(getattr(record, kind.topic_key))
            if getattr(record, "parent_platform_comment_id", None):
                wanted.add(record.parent_platform_comment_id)
    known = _known_aliases(session, account_id, wanted)
    new_rows: list[dict[str, Any]] = []
    resolved: dict["Kind", list[BaseModel]] = dict(records)
    for kind in kinds:
        name = kind.batch_field
        carriers = [r for r in records[kind] if r.aliases]
        carried = {a for r in carriers for a in r.aliases.values()} | {getattr(r, kind.key) for r in carriers}
        stored = stored_keys(session, kind.model.__table__, kind.key, account_id, carried) if carried else set()
        out = []
        for record in records[kind]:
            key = getattr(record, kind.key)
            canonical = known.get((name, key)) or (key if key in stored else None)
            for alias in record.aliases.values():
                if canonical is not None:
                    break
                canonical = known.get((name, alias)) or (alias if alias in stored else None)
            canonical = canonical or key
            stored.add(canonical)  # a later record of the batch may name it as its alias
            ids = {system: alias for system, alias in record.aliases.items()}
            if key != canonical:
                ids.setdefault(OWN_ID, key)
            for system, alias in ids.items():
                if alias != canonical and (name, alias) not in known:
                    known[(name, alias)] = canonical
                    new_rows.append(dict(account_id=account_id, kind=name, alias=alias,
                                         platform_id=canonical, system=system))
            update: dict[str, Any] = {}
            if canonical != key:
                update[kind.key] = canonical
            if kind.is_message:
                topic = getattr(record, kind.topic_key)
                topic_name = topic_of[kind.topic_kind].batch_field
                if (topic_name, topic) in known:
                    update[kind.topic_key] = known[(topic_name, topic)]
            parent = getattr(record, "parent_platform_comment_id", None)
            if parent and (comments.batch_field, parent) in known:
                update["parent_platform_comment_id"] = known[(comments.batch_field, parent)]
            out.append(record.model_copy(update=update) if update else record)
        resolved[kind] = out
    if new_rows:
        session.execute(_insert_aliases(session), new_rows)
    return resolved


def _has_aliases(session: Session, account_id: str) -> bool:
    return session.connection().execute(_ANY_ALIAS, {"account_id": account_id}).first() is not None


_ANY_ALIAS = select(RecordAlias.alias).where(RecordAlias.account_id == bindparam("account_id")).limit(1)


def _known_aliases(session: Session, account_id: str, ids: set[str]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    ordered = sorted(ids)
    statement = select(RecordAlias.kind, RecordAlias.alias, RecordAlias.platform_id).where(
        RecordAlias.account_id == account_id, RecordAlias.alias.in_(bindparam("ids", expanding=True)))
    for start in range(0, len(ordered), CHUNK):
        for kind, alias, platform_id in session.execute(statement, {"ids": ordered[start:start + CHUNK]}):
            found[(kind, alias)] = platform_id
    return found


def _insert_aliases(session: Session) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(RecordAlias.__table__)
    return insert.on_conflict_do_nothing(index_elements=["account_id", "kind", "alias"])
