"""How the site's JSON looks: world objects → the bodies its pages fetch and its push sends.

The shapes borrow from real creator sites on purpose (numeric string ids, first-level comment
`reply_id` "0", epoch seconds for comments and works, ISO-8601 strings for IM messages, a
`status_code` in every body), so the adapter's parsers deal with the same kinds of quirks.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .state import Comment, Conversation, Creator, DirectMessage, Person, Work


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user(p: Person, origin: str) -> dict[str, Any]:
    return {"uid": p.uid, "nickname": p.nickname, "avatar_url": origin + p.avatar_path}


def work(creator: Creator, w: Work, origin: str) -> dict[str, Any]:
    return {
        "work_id": w.work_id,
        "title": w.title,
        "cover_url": origin + w.cover_path,
        "share_url": f"{origin}/creator/comments?work={w.work_id}",
        "create_time": int(w.create_time),
        "comment_count": creator.comment_count(w.work_id),
        "newest_comment_id": creator.newest_comment_id(w.work_id),  # as creator centres show the latest comment
        "digg_count": w.digg_count,
        "play_count": w.play_count,
    }


def comment(c: Comment, origin: str, *, thread: list[Comment] | None = None) -> dict[str, Any]:
    """A comment; a first-level one with its `thread` (oldest first) counted and its newest
    reply named, as comment lists show a thread's size and latest reply under the comment."""
    thread = thread or []
    return {
        "cid": c.cid,
        "work_id": c.work_id,
        "level": 2 if c.root_cid else 1,
        "reply_id": c.root_cid or "0",
        "reply_to_reply_id": c.reply_to_cid or "0",
        "reply_to_user": user(c.reply_to_user, origin) if c.reply_to_user else None,
        "user": user(c.user, origin),
        "text": c.text,
        "create_time": int(c.create_time),
        "digg_count": c.digg_count,
        "reply_total": len(thread),
        "newest_reply_id": thread[-1].cid if thread else "0",
        "is_author": c.is_author,
    }


def message(m: DirectMessage, origin: str) -> dict[str, Any]:
    return {
        "msg_id": m.msg_id,
        "conversation_id": m.conversation_id,
        "sender": user(m.sender, origin),
        "is_from_me": m.is_from_me,
        "content": {"type": "text", "text": m.text},
        "created_at": iso(m.created_at),
    }


def conversation(conv: Conversation, origin: str) -> dict[str, Any]:
    last = conv.messages[-1] if conv.messages else None
    return {
        "conversation_id": conv.conversation_id,
        "peer": user(conv.peer, origin),
        "unread_count": conv.unread_count,
        "updated_at": iso(conv.updated_at),
        "last_message": message(last, origin) if last else None,
    }


def ok(**body: Any) -> dict[str, Any]:
    return {"status_code": 0, "status_msg": "", **body}


def error(code: int, msg: str) -> dict[str, Any]:
    return {"status_code": code, "status_msg": msg}
