"""Account snapshots in the original system's format (PROTOCOL.md §7), for import and export.

The original worker sent its whole view of an account as one JSON document:

    {accountId, platform, timestamp,
     snapshot: {platform, data: {comments, contents, conversations, messages, notifications}}}

with camelCase records (commentId, contentId, parentCommentId, authorName, isAuthorReply,
isRead, conversationId, messageId, senderId, direction "inbound"/"outbound", ...). Times follow
its rules (§6): comment createdAt in epoch seconds, DM createdAt and publishTime in
milliseconds, the envelope timestamp in milliseconds.

`import_snapshot` maps such a document onto platform records and ingests them through the
DataStore, so every record is validated and merged like a crawl (bad records are rejected one
by one); the read marks of the snapshot are kept for messages seen for the first time.
`export_snapshot` writes an account back out in the same shape. Notifications have no table
here: they are exported as an empty list and ignored on import.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..records import Batch
from .datastore import DataStore, IngestResult, Rejection
from .db import Database
from .models import Account, Comment, Content, Conversation, Direction, DirectMessage, LoginStatus
from .validation import to_millis

log = logging.getLogger(__name__)

IMPORT_CHUNK = 2_000  # records per transaction: big imports neither hog the writer nor memory
LOCAL_PREFIX = "local:"  # our queued replies' placeholders: outbox state, not platform data
OUT = Direction.OURS.value


class SnapshotError(ValueError):
    """The document is not an account snapshot; the message says what is missing."""


# ---- Import -----------------------------------------------------------------------------------
async def import_snapshot(store: DataStore, data: Any) -> IngestResult:
    """Ingest an original-format snapshot, creating its account if it is unknown."""
    account_id, platform, lists = _envelope(data)
    await store.db.write(_ensure_account, account_id, platform)
    if lists["notifications"]:
        log.info("snapshot of %s: %d notifications not imported (no notification store)",
                 account_id, len(lists["notifications"]))
    total = IngestResult()
    # Topics first, so messages find their topic's full row rather than creating a minimal one.
    for field, convert in (("contents", _content), ("conversations", _conversation),
                           ("comments", _comment), ("messages", _message)):
        records = lists[field]
        for offset in range(0, len(records), IMPORT_CHUNK):
            chunk = [convert(r, account_id) for r in records[offset:offset + IMPORT_CHUNK]]
            batch = Batch(account_id, source="import", **{field: chunk})
            _add(total, await store.ingest(batch), offset)
    return total


def _envelope(data: Any) -> tuple[str, str, dict[str, list[Any]]]:
    if not isinstance(data, dict):
        raise SnapshotError("a snapshot is a JSON object with accountId and snapshot.data")
    account_id = data.get("accountId")
    if not isinstance(account_id, str) or not account_id.strip():
        raise SnapshotError("the snapshot has no accountId")
    snapshot = data.get("snapshot")
    inner = snapshot.get("data") if isinstance(snapshot, dict) else None
    if not isinstance(inner, dict):
        raise SnapshotError(f"the snapshot of {account_id} has no snapshot.data object")
    platform = data.get("platform") or (snapshot.get("platform") if snapshot else None)
    if not isinstance(platform, str) or not platform:
        raise SnapshotError(f"the snapshot of {account_id} does not say its platform")
    lists: dict[str, list[Any]] = {}
    for name in ("comments", "contents", "conversations", "messages", "notifications"):
        value = inner.get(name, [])
        if value is None:
            value = []
        if not isinstance(value, list):
            raise SnapshotError(f"snapshot.data.{name} of {account_id} is not a list")
        lists[name] = value
    return account_id, platform, lists


def _ensure_account(session: Session, account_id: str, platform: str) -> None:
    """An imported account starts logged out and not monitored: it has no session yet."""
    if session.get(Account, account_id) is None:
        session.add(Account(
            id=account_id, platform=platform, display_name=account_id[:100],
            login_status=LoginStatus.NOT_LOGGED_IN.value, monitor_enabled=False,
        ))


def _add(total: IngestResult, part: IngestResult, offset: int) -> None:
    total.accepted += part.accepted
    total.rejected.extend(
        Rejection(r.kind, r.index + offset, r.key, r.reason) for r in part.rejected
    )
    total.added_message_ids.extend(part.added_message_ids)
    total.updated_message_ids.extend(part.updated_message_ids)


def _platform_id(item: dict[str, Any], field: str, prefix: str, account_id: str) -> Any:
    """The platform id (§6: the named field, else `id` without the worker's
    "<prefix>_<account id>_" prefix)."""
    value = item.get(field)
    if value in (None, "") and isinstance(item.get("id"), str):
        value = item["id"].removeprefix(f"{prefix}_{account_id}_")
    return value


def _no_parent(value: Any) -> Any:
    return None if value in (None, "", "0", 0) else value


def _without_nones(record: dict[str, Any]) -> dict[str, Any]:
    """Leave out what the snapshot did not say, so the DataStore's defaults and merge rules
    (an absent field keeps what is known) apply."""
    return {k: v for k, v in record.items() if v is not None}


def _comment(item: Any, account_id: str) -> Any:
    if not isinstance(item, dict):
        return item  # the DataStore rejects it with a reason
    return _without_nones(dict(
        platform_comment_id=_platform_id(item, "commentId", "comm", account_id),
        platform_content_id=item.get("contentId"),
        parent_platform_comment_id=_no_parent(item.get("parentCommentId")),
        author_id=item.get("authorId"),
        author_name=item.get("authorName"),
        author_avatar=item.get("authorAvatar"),
        text=item.get("content"),
        created_at=item.get("createdAt"),
        direction=OUT if item.get("isAuthorReply") else "in",
        like_count=item.get("likeCount"),
        is_read=item.get("isRead"),
    ))


def _message(item: Any, account_id: str) -> Any:
    if not isinstance(item, dict):
        return item
    return _without_nones(dict(
        platform_message_id=_platform_id(item, "messageId", "msg", account_id),
        platform_conversation_id=item.get("conversationId"),
        sender_id=item.get("senderId"),
        sender_name=item.get("senderName"),
        sender_avatar=item.get("senderAvatar"),
        text=item.get("content"),
        message_type=item.get("type") or None,
        created_at=item.get("createdAt"),
        direction=OUT if item.get("direction") == "outbound" else "in",
        is_recalled=item.get("isRecalled"),
        is_read=item.get("isRead"),
    ))


def _content(item: Any, account_id: str) -> Any:
    if not isinstance(item, dict):
        return item
    stats = {k: v for k, v in item.items()
             if k.endswith("Count") and isinstance(v, int) and not isinstance(v, bool)}
    return _without_nones(dict(
        platform_content_id=_platform_id(item, "contentId", "cont", account_id),
        kind=item.get("type") or None,
        title=item.get("title"),
        cover_url=item.get("coverUrl"),
        url=item.get("url"),
        publish_at=item.get("publishTime") or None,
        stats=stats or None,
    ))


def _conversation(item: Any, account_id: str) -> Any:
    if not isinstance(item, dict):
        return item
    return _without_nones(dict(
        platform_conversation_id=_platform_id(item, "conversationId", "conv", account_id),
        peer_id=item.get("userId"),
        peer_name=item.get("userName"),
        peer_avatar=item.get("userAvatar"),
    ))


# ---- Export -----------------------------------------------------------------------------------
async def export_snapshot(db: Database, account_id: str) -> dict[str, Any]:
    """The account's platform data as an original-format snapshot (JSON-serialisable)."""
    return await db.read(_export, account_id)


def _export(session: Session, account_id: str) -> dict[str, Any]:
    account = session.get(Account, account_id)
    if account is None:
        raise LookupError(f"unknown account {account_id!r}")
    platform = account.platform

    def rows(model: Any, key: Any) -> list[Any]:
        query = (select(model)
                 .where(model.account_id == account_id, key.not_like(f"{LOCAL_PREFIX}%"))
                 .order_by(model.id))
        return list(session.scalars(query))

    def envelope(prefix: str, platform_id: str, created_ms: int | None) -> dict[str, Any]:
        return {"id": f"{prefix}_{account_id}_{platform_id}", "accountId": account_id,
                "platform": platform, "createdAt": created_ms}

    contents = []
    for c in rows(Content, Content.platform_content_id):
        item = envelope("cont", c.platform_content_id, _ms(c.publish_at))
        item.update(contentId=c.platform_content_id, type=c.kind, title=c.title,
                    coverUrl=c.cover_url, url=c.url, publishTime=_ms(c.publish_at), **c.stats)
        contents.append(item)
    conversations = []
    for c in rows(Conversation, Conversation.platform_conversation_id):
        item = envelope("conv", c.platform_conversation_id, _ms(c.first_seen_at))
        item.update(conversationId=c.platform_conversation_id, type="private", userId=c.peer_id,
                    userName=c.peer_name, userAvatar=c.peer_avatar,
                    unreadCount=c.unread_count, lastMessageContent=c.last_message_preview,
                    lastMessageTime=_ms(c.last_message_at))
        conversations.append(item)
    comments = []
    for c in rows(Comment, Comment.platform_comment_id):
        item = envelope("comm", c.platform_comment_id, None)
        item.update(commentId=c.platform_comment_id, contentId=c.platform_content_id,
                    parentCommentId=c.parent_platform_comment_id, authorId=c.author_id,
                    authorName=c.author_name, authorAvatar=c.author_avatar, content=c.text,
                    likeCount=c.like_count, isAuthorReply=c.direction == OUT, isRead=c.is_read,
                    createdAt=_seconds(c.created_at))
        comments.append(item)
    messages = []
    for m in rows(DirectMessage, DirectMessage.platform_message_id):
        item = envelope("msg", m.platform_message_id, _ms(m.created_at))
        item.update(messageId=m.platform_message_id, conversationId=m.platform_conversation_id,
                    senderId=m.sender_id, senderName=m.sender_name, senderAvatar=m.sender_avatar,
                    type=m.message_type, content=m.text,
                    direction="outbound" if m.direction == OUT else "inbound",
                    isRecalled=m.is_recalled, isRead=m.is_read)
        messages.append(item)
    return {
        "accountId": account_id,
        "platform": platform,
        "timestamp": int(time.time() * 1000),
        "snapshot": {
            "platform": platform,
            "data": {"comments": comments, "contents": contents,
                     "conversations": conversations, "messages": messages,
                     "notifications": []},
        },
    }


def _ms(instant: Any) -> int | None:
    return None if instant is None else to_millis(instant)


def _seconds(instant: Any) -> int | float:
    """Comment times are epoch seconds in the original format; keep milliseconds if any."""
    millis = to_millis(instant)
    return millis // 1000 if millis % 1000 == 0 else millis / 1000
