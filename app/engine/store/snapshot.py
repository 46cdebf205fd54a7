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

import asyncio
import itertools
import logging
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import ijson
import ijson.backends.python as ijson_python
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..records import Batch
from .datastore import DataStore, IngestResult, Rejection
from .db import Database, DatabaseError
from .models import Account, Comment, Content, Conversation, Direction, DirectMessage, LoginStatus
from .validation import to_millis

log = logging.getLogger(__name__)

IMPORT_CHUNK = 2_000  # records per transaction: big imports neither hog the writer nor memory
LOCAL_PREFIX = "local:"  # our queued replies' placeholders: outbox state, not platform data
OUT = Direction.OURS.value


class SnapshotError(ValueError):
    """The document is not an account snapshot; the message says what is missing."""


# ---- Import -----------------------------------------------------------------------------------
class ImportStopped(Exception):
    """The import stopped part-way (a full disk, a file cut short): `result` is what was
    committed before, so the operator knows what is kept; importing the file again after the
    cause is fixed merges the rest (records already stored are merged, not doubled)."""

    def __init__(self, result: IngestResult, committed: dict[str, int], reason: str) -> None:
        self.result = result
        self.committed = committed
        self.reason = reason
        kept = ", ".join(f"{count} {field}" for field, count in committed.items() if count) or "nothing"
        super().__init__(f"stopped after committing {result.accepted} records ({kept}): {reason}; "
                         "fix that and import the file again (what is stored is merged, not doubled)")


async def import_snapshot(store: DataStore, data: Any) -> IngestResult:
    """Ingest an original-format snapshot already read into memory (a dict)."""
    account_id, platform, lists = _envelope(data)
    return await _import(store, account_id, platform, lambda field: iter(lists[field]),
                         len(lists["notifications"]))


async def import_snapshot_file(store: DataStore, path: Path) -> IngestResult:
    """Ingest a snapshot file without reading it whole: the file is parsed as a stream (ijson),
    once for its envelope and once per record list, so memory stays flat however big it is.
    Raises SnapshotError (nothing imported) or ImportStopped (part imported)."""
    account_id, platform, counts = await asyncio.to_thread(_file_envelope, path)

    def records(field: str) -> Iterator[Any]:
        with path.open("rb") as f:
            yield from ijson.items(f, f"snapshot.data.{field}.item")

    return await _import(store, account_id, platform, records, counts["notifications"])


async def _import(store: DataStore, account_id: str, platform: str,
                  records: Callable[[str], Iterator[Any]], notifications: int) -> IngestResult:
    """Create the account if it is unknown, then ingest its lists chunk by chunk."""
    total = IngestResult()
    committed = {field: 0 for field in IMPORT_ORDER}
    try:
        await store.db.write(_ensure_account, account_id, platform)
        if notifications:
            log.info("snapshot of %s: %d notifications not imported (no notification store)",
                     account_id, notifications)
        for field, convert in IMPORT_ORDER.items():
            stream = records(field)
            offset = 0
            while chunk := await asyncio.to_thread(_next_chunk, stream):
                batch = Batch(account_id, source="import",
                              **{field: [convert(r, account_id) for r in chunk]})
                part = await store.ingest(batch)
                _add(total, part, offset)
                committed[field] += part.accepted
                offset += len(chunk)
    except (sa_exc.SQLAlchemyError, DatabaseError, ijson.JSONError, OSError) as exc:
        raise ImportStopped(total, committed, _reason(exc)) from exc
    return total


def _next_chunk(stream: Iterator[Any]) -> list[Any]:
    """The next IMPORT_CHUNK records (parsed on a worker thread: the loop stays responsive)."""
    return list(itertools.islice(stream, IMPORT_CHUNK))


def _reason(error: Exception) -> str:
    original = getattr(error, "orig", None) or error
    if isinstance(original, OSError) and original.strerror:
        return original.strerror.lower()
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


def _file_envelope(path: Path) -> tuple[str, str, dict[str, int]]:
    """Read the envelope (accountId, platform) and check the record lists in one streamed
    pass, before anything is written: a file that is not a snapshot, not valid JSON to its
    end, or nested deeper than any snapshot is (MAX_DEPTH) imports nothing. Returns the
    account id, the platform and each list's length.

    The pass tracks its own position (basic_parse): ijson's prefixed events cost time
    proportional to the depth for every event, which a hostile file nested 100,000 deep
    turns into hours."""
    top: dict[str, Any] = {}
    kinds: dict[str, str] = {}  # data field -> the JSON event that starts it
    counts = dict.fromkeys(DATA_FIELDS, 0)
    stack: list[list[Any]] = []  # per open container above the records: [prefix, key]
    inner = 0  # containers open inside a record (past the stack): only their depth matters
    try:
        with path.open("rb") as f:
            for event, value in ijson.basic_parse(f):
                if inner:  # inside a record (most events): only the depth matters
                    if event in _STARTS:
                        inner += 1
                        if len(stack) + inner > MAX_DEPTH:
                            raise SnapshotError(_too_deep(top))
                    elif event in _ENDS:
                        inner -= 1
                    continue
                if event == "map_key":
                    stack[-1][1] = value
                    continue
                if event in _ENDS:
                    stack.pop()
                    continue
                prefix = _prefix(stack)
                _note(prefix, event, value, top, kinds, counts)
                if event in _STARTS:
                    if len(stack) >= ENVELOPE_DEPTH:
                        inner = 1  # a record: counted, not tracked
                    else:
                        stack.append([prefix if event == "start_map" else _array(prefix), None])
    except ijson.JSONError as exc:
        raise SnapshotError(f"not valid JSON ({exc})") from None
    except UnicodeError:
        where = top.get("(record)")
        raise SnapshotError("contains text that is not valid Unicode (a lone \\u surrogate escape"
                            f"{f' in {where}' if where else ''})") from None
    except OSError as exc:
        raise SnapshotError(f"cannot read the file ({exc.strerror or exc})") from None
    if "(document)" not in top:
        raise SnapshotError("a snapshot is a JSON object with accountId and snapshot.data")
    for field in ("accountId", "platform", "snapshot.platform"):
        if isinstance(top.get(field), str) and "?" in top[field]:
            top[field] = _exact_text(path, field)  # the fast parser writes "?" for bad text
    document: dict[str, Any] = {"accountId": top.get("accountId"), "platform": top.get("platform")}
    if "snapshot" in top:
        document["snapshot"] = {"platform": top.get("snapshot.platform")}
        if "snapshot.data" in top:
            document["snapshot"]["data"] = {
                name: ([] if event == "start_array" else None if event == "null" else {})
                for name, event in kinds.items()}
    account_id, platform, _lists = _envelope(document)
    return account_id, platform, counts


def _too_deep(top: dict[str, Any]) -> str:
    where = top.get("(record)")
    return f"not a snapshot: JSON nested more than {MAX_DEPTH} levels deep{f' (in {where})' if where else ''}"


_STARTS = frozenset({"start_map", "start_array"})
_ENDS = frozenset({"end_map", "end_array"})
_ARRAY = "\0array"  # marks an array's frame: its values' prefix is "<prefix>.item"


def _array(prefix: str) -> str:
    return prefix + _ARRAY


def _prefix(stack: list[list[Any]]) -> str:
    """ijson's prefix of the value being read ("snapshot.data.comments.item")."""
    if not stack:
        return ""
    parent, key = stack[-1]
    if parent.endswith(_ARRAY):
        return parent[: -len(_ARRAY)] + ".item" if parent != _ARRAY else "item"
    return f"{parent}.{key}" if parent else key


def _note(prefix: str, event: str, value: Any, top: dict[str, Any], kinds: dict[str, str],
          counts: dict[str, int]) -> None:
    """Keep what the envelope check needs from one value at `prefix`."""
    if prefix in ("", "snapshot", "snapshot.data"):
        if event == "start_map":
            top.setdefault(prefix or "(document)", {})
    elif prefix in _ENVELOPE_FIELDS:
        if event in _SCALARS:
            top.setdefault(prefix, value)
    elif prefix.startswith("snapshot.data."):
        name = prefix[len("snapshot.data."):]
        if name in counts:
            kinds.setdefault(name, event)
        elif name.endswith(".item") and name[:-5] in counts:
            top["(record)"] = f"{name[:-5]}[{counts[name[:-5]]}]"
            counts[name[:-5]] += 1


def _exact_text(path: Path, prefix: str) -> Any:
    """The field as written, by the pure-Python parser (which keeps a lone surrogate the C
    parser turns into "?", so _envelope can refuse it); it stops at the field."""
    try:
        with path.open("rb") as f:
            for found, event, value in ijson_python.parse(f):
                if found == prefix and event == "string":
                    return value
    except UnicodeError:  # a lone low surrogate: the parser cannot even build the text
        raise SnapshotError(f"the snapshot's {prefix} is not valid Unicode text") from None
    return None


DATA_FIELDS = ("comments", "contents", "conversations", "messages", "notifications")
_ENVELOPE_FIELDS = {"accountId", "platform", "snapshot.platform"}
_SCALARS = {"string", "number", "boolean", "null"}
MAX_DEPTH = 64  # levels of JSON nesting; a snapshot needs 6 (records' rawData a few more)
ENVELOPE_DEPTH = 4  # snapshot.data.<list>.item: the records, below which nothing is envelope


def _envelope(data: Any) -> tuple[str, str, dict[str, list[Any]]]:
    if not isinstance(data, dict):
        raise SnapshotError("a snapshot is a JSON object with accountId and snapshot.data")
    account_id = data.get("accountId")
    if not isinstance(account_id, str) or not account_id.strip():
        raise SnapshotError("the snapshot has no accountId")
    _check_text("accountId", account_id)
    snapshot = data.get("snapshot")
    inner = snapshot.get("data") if isinstance(snapshot, dict) else None
    if not isinstance(inner, dict):
        raise SnapshotError(f"the snapshot of {account_id} has no snapshot.data object")
    platform = data.get("platform") or (snapshot.get("platform") if snapshot else None)
    if not isinstance(platform, str) or not platform:
        raise SnapshotError(f"the snapshot of {account_id} does not say its platform")
    _check_text("platform", platform)
    lists: dict[str, list[Any]] = {}
    for name in DATA_FIELDS:
        value = inner.get(name, [])
        if value is None:
            value = []
        if not isinstance(value, list):
            raise SnapshotError(f"snapshot.data.{name} of {account_id} is not a list")
        lists[name] = value
    return account_id, platform, lists


def _check_text(field: str, value: str) -> None:
    """JSON can spell half a UTF-16 pair (\\ud800): such an id cannot be stored or shown."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SnapshotError(f"the snapshot's {field} is not valid Unicode text "
                            f"({value.encode('utf-8', 'backslashreplace').decode('ascii')})") from None


def _ensure_account(session: Session, account_id: str, platform: str) -> None:
    """An imported account starts logged out and not monitored: it has no session yet."""
    if session.get(Account, account_id) is None:
        session.add(Account(
            id=account_id, platform=platform, display_name=account_id[:100],
            login_status=LoginStatus.NOT_LOGGED_IN.value, monitor_enabled=False,
        ))


def _add(total: IngestResult, part: IngestResult, offset: int) -> None:
    """Counts and rejections; not the message ids (a big import would hold millions)."""
    total.accepted += part.accepted
    total.rejected.extend(
        Rejection(r.kind, r.index + offset, r.key, r.reason) for r in part.rejected
    )


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


# Topics first, so messages find their topic's full row rather than creating a minimal one.
IMPORT_ORDER: dict[str, Callable[[Any, str], Any]] = {
    "contents": _content, "conversations": _conversation, "comments": _comment, "messages": _message}


# ---- Export -----------------------------------------------------------------------------------
async def find_account(db: Database, name_or_id: str) -> str:
    """The id of the account with this id, else with this display name (what the console
    shows); LookupError names the candidates when none or several match."""
    return await db.read(_find_account, name_or_id)


def _find_account(session: Session, name_or_id: str) -> str:
    if session.get(Account, name_or_id) is not None:
        return name_or_id
    named = list(session.scalars(select(Account).where(Account.display_name == name_or_id)
                                 .order_by(Account.id)))
    if len(named) == 1:
        return named[0].id
    if named:
        choices = "; ".join(f"{a.id} ({a.platform})" for a in named)
        raise LookupError(f"{len(named)} accounts are named {name_or_id!r}: give one of their "
                          f"ids instead: {choices}")
    raise LookupError(f"unknown account {name_or_id!r} (neither an account name nor an id; "
                      "the account manager shows both)")


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
