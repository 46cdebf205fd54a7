"""Pure functions: the sandbox site's JSON (what its pages fetch and its push sends) → record
dicts for app.engine.records. No I/O, so they are tested on plain JSON.

Site quirks handled here, as a real platform's parser would: comment times are epoch seconds,
DM times ISO-8601 strings; a first-level comment has `reply_id` "0"; a reply's parent is the
second-level comment it answers (`reply_to_reply_id`) or else the thread's first comment;
`is_author` / `is_from_me` mark what the creator (our account) wrote.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from app.engine.records import Batch

Raw = dict[str, Any]

# The site's status codes that the adapter reacts to (see site/state.py).
STATUS_OK = 0
STATUS_LOGIN_REQUIRED = 8
STATUS_RATE_LIMITED = 2154
STATUS_NOT_FOUND = 3001
STATUS_TEXT_REJECTED = 3002
STATUS_VERIFY_REQUIRED = 2190
STATUS_ACCOUNT_BLOCKED = 2149


@dataclass
class Parsed:
    """Records found in one or more responses, in arrival order."""

    contents: list[Raw] = field(default_factory=list)
    comments: list[Raw] = field(default_factory=list)
    conversations: list[Raw] = field(default_factory=list)
    messages: list[Raw] = field(default_factory=list)
    unreadable: int = 0  # answers the page got whose body could not be read (seen less than shown)

    def __len__(self) -> int:
        return len(self.contents) + len(self.comments) + len(self.conversations) + len(self.messages)

    def extend(self, other: "Parsed") -> None:
        self.contents += other.contents
        self.comments += other.comments
        self.conversations += other.conversations
        self.messages += other.messages
        self.unreadable += other.unreadable

    def to_batch(self, account_id: str, source: str) -> Batch:
        return Batch(account_id, list(self.contents), list(self.comments), list(self.conversations),
                     list(self.messages), source=source)


def _seconds(value: Any) -> datetime:
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


def _iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _user(raw: Raw | None) -> tuple[str | None, str | None, str | None]:
    raw = raw or {}
    return raw.get("uid"), raw.get("nickname"), raw.get("avatar_url")


# ---- one object each -----------------------------------------------------------------------
def work_record(w: Raw) -> Raw:
    return {
        "platform_content_id": str(w["work_id"]),
        "kind": "video",
        "title": w.get("title"),
        "cover_url": w.get("cover_url"),
        "url": w.get("share_url"),
        "publish_at": _seconds(w["create_time"]) if w.get("create_time") is not None else None,
        "stats": {k: int(w[k]) for k in ("comment_count", "digg_count", "play_count") if k in w},
    }


def comment_parent(c: Raw) -> str | None:
    """The comment this one answers: the second-level reply it names, else its thread root."""
    for key in ("reply_to_reply_id", "reply_id"):
        value = str(c.get(key) or "0")
        if value != "0":
            return value
    return None


def comment_record(c: Raw) -> Raw:
    author_id, author_name, author_avatar = _user(c.get("user"))
    return {
        "platform_comment_id": str(c["cid"]),
        "platform_content_id": str(c["work_id"]),
        "parent_platform_comment_id": comment_parent(c),
        "author_id": author_id,
        "author_name": author_name,
        "author_avatar": author_avatar,
        "text": c.get("text", ""),
        "created_at": _seconds(c["create_time"]),
        "direction": "out" if c.get("is_author") else "in",
        "like_count": int(c.get("digg_count") or 0),
    }


def conversation_record(conv: Raw) -> Raw:
    peer_id, peer_name, peer_avatar = _user(conv.get("peer"))
    return {
        "platform_conversation_id": str(conv["conversation_id"]),
        "peer_id": peer_id,
        "peer_name": peer_name,
        "peer_avatar": peer_avatar,
    }


def message_record(m: Raw) -> Raw:
    sender_id, sender_name, sender_avatar = _user(m.get("sender"))
    content = m.get("content") or {}
    return {
        "platform_message_id": str(m["msg_id"]),
        "platform_conversation_id": str(m["conversation_id"]),
        "sender_id": sender_id,
        "sender_name": sender_name,
        "sender_avatar": sender_avatar,
        "text": content.get("text", ""),
        "message_type": content.get("type", "text"),
        "created_at": _iso(m["created_at"]),
        "direction": "out" if m.get("is_from_me") else "in",
    }


# ---- whole bodies --------------------------------------------------------------------------
def parse_works(body: Raw) -> Parsed:
    return Parsed(contents=[work_record(w) for w in body.get("works", [])])


def parse_work_detail(body: Raw) -> Parsed:
    return Parsed(contents=[work_record(body["work"])]) if body.get("work") else Parsed()


def parse_comments(body: Raw) -> Parsed:
    """A first-level page or a reply-thread page: both carry `comments`; a thread page also
    its first-level comment (`root`)."""
    roots = [body["root"]] if body.get("root") else []
    return Parsed(comments=[comment_record(c) for c in roots + body.get("comments", [])])


def parse_conversations(body: Raw) -> Parsed:
    parsed = Parsed()
    for conv in body.get("conversations", []):
        parsed.conversations.append(conversation_record(conv))
        if conv.get("last_message"):
            parsed.messages.append(message_record(conv["last_message"]))
    return parsed


def parse_messages(body: Raw) -> Parsed:
    # Pages come newest first; store oldest first so arrival order matches time order.
    return Parsed(messages=[message_record(m) for m in reversed(body.get("messages", []))])


def parse_sent(body: Raw) -> Parsed:
    """The record a send's answer carries: the created comment or direct message."""
    if body.get("comment"):
        return Parsed(comments=[comment_record(body["comment"])])
    return Parsed(messages=[message_record(body["message"])])


_BY_PATH = {
    "/api/works": parse_works,
    "/api/works/detail": parse_work_detail,
    "/api/comments": parse_comments,
    "/api/comments/replies": parse_comments,
    "/api/im/conversations": parse_conversations,
    "/api/im/messages": parse_messages,
}


def is_data_url(url: str) -> bool:
    """Whether a response at this URL carries records we read (sends are not: their results
    reach the store through the next crawl, after the outbox knows the reply's id)."""
    return urlsplit(url).path in _BY_PATH


def parse_response(url: str, body: Any) -> Parsed:
    """Records in the JSON `body` the page fetched from `url` (nothing for an error body)."""
    parser = _BY_PATH.get(urlsplit(url).path)
    if parser is None or not isinstance(body, dict) or body.get("status_code") != STATUS_OK:
        return Parsed()
    return parser(body)


def read_frame(payload: str | bytes) -> Raw:
    """An IM websocket frame as a dict ({} for anything that is not a JSON object)."""
    try:
        frame = json.loads(payload)
    except (TypeError, ValueError):
        return {}
    return frame if isinstance(frame, dict) else {}


def parse_push_frame(frame: Raw) -> Parsed:
    """A new message with its conversation, or a comment notice with the comment and its
    work; other frames hold none."""
    if frame.get("type") == "im_message":
        parsed = Parsed(messages=[message_record(frame["message"])])
        if frame.get("conversation"):
            parsed.conversations.append(conversation_record(frame["conversation"]))
        return parsed
    if frame.get("type") == "comment_notice":
        parsed = Parsed(comments=[comment_record(frame["comment"])])
        if frame.get("work"):
            parsed.contents.append(work_record(frame["work"]))
        return parsed
    return Parsed()


def pushed_comment(frame: Raw) -> Raw | None:
    """The comment a comment notice carries (None for other frames)."""
    return frame.get("comment") if frame.get("type") == "comment_notice" else None


def is_session_expired_frame(frame: Raw) -> bool:
    return frame.get("type") == "session_expired"
