"""The DataStore: where platform records enter the database.

`await store.ingest(batch)` validates every record of a crawl batch, rejects the bad ones one by
one (logged, counted, reported with a reason: nothing else in the batch is lost), stores the
rest in ONE transaction on the database's writer thread (merge.py has the rules), and only
after the commit publishes what changed: `MessagesAdded` (with the new rows as the views show
them, read in the same transaction: im/added.py), `MessagesUpdated` and, for replies the crawl
confirmed, `MessageStatusChanged`. A record is therefore always persisted before
anyone is told about it, and the event loop never waits on the database.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import bindparam, select

from ..bus import EventBus
from ..events import MessagesAdded, MessagesUpdated, MessageStatusChanged
from ..im.added import committed, read_added
from ..im.types import TopicRef
from ..platform import BatchSink
from ..records import Batch
from .db import Database
from .merge import ALL_KINDS, Kind, Outcome, merge_batch
from .models import Account, ReplyStatus, utcnow

log = logging.getLogger(__name__)
LOGGED_REJECTIONS_PER_BATCH = 10  # a flood of bad records must not flood the log
_ACCOUNT = select(Account.id).where(Account.id == bindparam("id"))


@dataclass(frozen=True)
class Rejection:
    kind: str  # the Batch list it came from: contents | comments | conversations | messages
    index: int  # its position in that list
    key: str | None  # its platform id, when one could be read
    reason: str


@dataclass
class IngestResult:
    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    added_message_ids: list[str] = field(default_factory=list)
    updated_message_ids: list[str] = field(default_factory=list)
    unknown_account: bool = False  # nothing stored: the account is not there (deleted, or never added)


class DataStore:
    def __init__(self, db: Database, bus: EventBus, *, forward: BatchSink | None = None) -> None:
        self.db = db
        self.bus = bus
        self.forward = forward
        self.accepted_total = 0
        self.rejected_total = 0

    async def ingest(self, batch: Batch) -> IngestResult:
        """Store one batch of one account's records; see the module doc.

        With `forward` (a remote worker: app/worker/journal.py), the batch is handed there
        first and stored here only after it returned: a batch the crawl has moved past is
        always on its way to the master, even when this process dies right after."""
        if self.forward is not None:
            await self.forward(batch)
        result, outcome, added = await self.db.write(self._store, batch)
        self.accepted_total += result.accepted
        self.rejected_total += len(result.rejected)
        if outcome is not None:
            self._publish(batch.account_id, outcome, added)
        return result

    # ---- Internals (on the writer thread)

    def _store(self, session: Any, batch: Batch) -> tuple[IngestResult, Outcome | None, MessagesAdded | None]:
        result = IngestResult()
        valid: dict[Kind, list[BaseModel]] = {}
        for kind in ALL_KINDS:
            valid[kind] = _validate(kind, getattr(batch, kind.batch_field), result.rejected)
        if session.connection().execute(_ACCOUNT, {"id": batch.account_id}).first() is None:
            result.unknown_account = True
            reason = f"unknown account {batch.account_id!r} (deleted, or never added)"
            for kind, records in valid.items():
                result.rejected.extend(
                    Rejection(kind.batch_field, i, getattr(r, kind.key), reason)
                    for i, r in enumerate(records)
                )
            _log_rejections(batch, result.rejected)
            return result, None, None
        _log_rejections(batch, result.rejected)
        outcome = merge_batch(session, batch.account_id, valid, utcnow())
        result.accepted = sum(len(records) for records in valid.values())
        result.added_message_ids = [key for _, key in outcome.added]
        result.updated_message_ids = [key for _, key in outcome.updated]
        added = (read_added(session, batch.account_id, outcome.added, outcome.inbound_new, outcome.new_rows,
                            outcome.topic_rows) if outcome.added else None)
        return result, outcome, added

    # ---- Internals (on the event loop, after commit)

    def _publish(self, account_id: str, outcome: Outcome, added: MessagesAdded | None) -> None:
        if added is not None:
            self.bus.publish(committed(added))
        added_topics = {ref for ref, _ in outcome.added}
        topics = {ref for ref, _ in outcome.updated} | (outcome.changed_topics - added_topics)
        if topics:
            self.bus.publish(MessagesUpdated(
                account_id, _topics(topics), tuple(key for _, key in outcome.updated)
            ))
        for c in outcome.confirmations:
            self.bus.publish(MessageStatusChanged(
                c.reply_id, account_id, c.topic, c.message_id, ReplyStatus.CONFIRMED.value,
                attempts=c.attempts,
            ))


def _validate(kind: Kind, raw_records: list[Any], rejected: list[Rejection]) -> list[BaseModel]:
    """The valid records; each bad one is added to `rejected`. The whole list is validated at
    once first (one call into pydantic instead of one per record); only a list with a bad
    record is gone through one by one, to keep the rest and say what is wrong."""
    try:
        return _list_of(kind.record).validate_python(raw_records)
    except ValidationError:
        pass
    valid = []
    for index, raw in enumerate(raw_records):
        try:
            valid.append(kind.record.model_validate(raw))
        except ValidationError as error:
            rejected.append(Rejection(kind.batch_field, index, _key_of(raw, kind), _reason(error)))
    return valid


@lru_cache(maxsize=None)
def _list_of(record: type[BaseModel]) -> TypeAdapter[list[BaseModel]]:
    return TypeAdapter(list[record])  # type: ignore[valid-type]


def _reason(error: ValidationError) -> str:
    parts = []
    for problem in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in problem["loc"]) or "record"
        message = problem["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _key_of(raw: Any, kind: Kind) -> str | None:
    key = raw.get(kind.key) if isinstance(raw, dict) else getattr(raw, kind.key, None)
    return str(key)[:128] if isinstance(key, (str, int)) else None


def _log_rejections(batch: Batch, rejected: list[Rejection]) -> None:
    for r in rejected[:LOGGED_REJECTIONS_PER_BATCH]:
        log.warning("rejected %s[%d] %s of account %s (%s): %s",
                    r.kind, r.index, r.key or "(no id)", batch.account_id, batch.source, r.reason)
    if len(rejected) > LOGGED_REJECTIONS_PER_BATCH:
        log.warning("... and %d more rejected records in the same batch",
                    len(rejected) - LOGGED_REJECTIONS_PER_BATCH)


def _topics(refs: Any) -> tuple[TopicRef, ...]:
    return tuple(sorted(set(refs), key=lambda r: (r.kind, r.platform_id)))


__all__ = ["DataStore", "IngestResult", "Rejection"]
