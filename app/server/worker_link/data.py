"""Data from workers into the DataStore: hiscrm/1 deltas, the original's snapshots, sessions.

- `worker:data:delta` (hiscrm/1): a batch with a per-worker sequence number, ingested through
  DataStore.ingest (source `worker:<id>`, the crawl's merge, idempotent) and acknowledged
  only after its commit. A seq at or below the highest applied from that worker (a resend
  after a lost ack) is acknowledged without ingesting it again. A batch that can never be
  stored (its account is unknown) is answered success:false, and the worker drops it; a
  database failure is not answered at all, so the worker sends it again after it reconnects.
- `worker:data:sync` (the original's 30 s snapshot, §7): merged through store/snapshot.py's
  mapping, as `hiscrm db import` does (read marks never reset), up to MAX_PAYLOAD.
- `worker:account:storage`: the account's saved session, encrypted by AccountService; only
  from the worker that holds the account (a worker it was taken from must not overwrite the
  session the new one uses).

Data (deltas, snapshots) is accepted from any worker for any existing account, not only the
one that holds it now: a worker whose accounts were reassigned still re-sends its journal,
and losing that would lose messages; the merge makes the overlap harmless.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc as sa_exc

from app.engine.records import Batch
from app.engine.store.db import DatabaseError
from app.engine.store.snapshot import ImportStopped, SnapshotError, import_snapshot

from .payloads import Delta, Storage

if TYPE_CHECKING:
    from app.engine.engine import Engine

    from .remote import RemoteWorker

log = logging.getLogger(__name__)


class NotStored(Exception):
    """Storing failed for a reason that may pass (the database): no answer, the worker resends."""


async def apply_delta(engine: Engine, worker: RemoteWorker, delta: Delta) -> dict[str, Any]:
    """Ingest one delta (in seq order per worker); the ack's payload."""
    async with worker.delta_lock:
        if delta.seq <= worker.applied_seq:
            return {"seq": delta.seq, "success": True, "duplicate": True,
                    "stats": {"added": 0, "updated": 0, "rejected": 0}}
        lists = delta.batch
        batch = Batch(delta.account_id, contents=lists.contents, comments=lists.comments,
                      conversations=lists.conversations, messages=lists.messages, source=f"worker:{worker.id}")
        try:
            # The account is checked in the write itself: no read of its own per delta.
            result = await engine.store.ingest(batch)
        except (sa_exc.SQLAlchemyError, DatabaseError, OSError) as exc:
            raise NotStored(str(exc)) from exc
        if result.unknown_account:
            return {"seq": delta.seq, "success": False, "error": f"unknown account {delta.account_id!r}"}
        worker.applied_seq = delta.seq
        added = len(result.added_message_ids)
        return {"seq": delta.seq, "success": True,
                "stats": {"added": added, "updated": result.accepted - added, "rejected": len(result.rejected)}}


async def apply_snapshot(engine: Engine, payload: dict[str, Any]) -> dict[str, Any]:
    """Merge an original snapshot; WORKER_DATA_SYNC_ACK's payload (success false: why)."""
    account_id = payload.get("accountId")
    try:
        if not isinstance(account_id, str) or await engine.accounts.get(account_id) is None:
            raise SnapshotError(f"unknown account {account_id!r}" if isinstance(account_id, str)
                                else "the snapshot has no accountId")
        result = await import_snapshot(engine.store, payload)
    except SnapshotError as exc:
        return {"success": False, "accountId": account_id if isinstance(account_id, str) else None,
                "error": str(exc)}
    except ImportStopped as exc:
        return {"success": False, "accountId": account_id, "error": str(exc)}
    return {"success": True, "accountId": account_id, "stats": {
        "accepted": result.accepted, "rejected": len(result.rejected)}}


async def save_storage(engine: Engine, worker: RemoteWorker, storage: Storage) -> dict[str, Any]:
    account = await engine.accounts.get(storage.account_id)
    if account is None:
        return {"account_id": storage.account_id, "success": False, "error": "unknown account"}
    if account.worker_id != worker.id:
        return {"account_id": storage.account_id, "success": False,
                "error": f"the account is held by {account.worker_id or 'the master'}, not {worker.id}"}
    await engine.accounts.save_storage_state(storage.account_id, storage.storage_state.model_dump())
    return {"account_id": storage.account_id, "success": True}
