"""Records for the IM view tests, in the plain-dict shape platform parsers hand the DataStore."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def comment(cid: str, content: str, text: str, minute: float, *, parent: str | None = None,
            direction: str = "in", author: str = "张三") -> dict:
    return dict(platform_comment_id=cid, platform_content_id=content, text=text, created_at=at(minute),
                parent_platform_comment_id=parent, direction=direction, author_id=f"u-{author}",
                author_name=author)


def dm(mid: str, conversation: str, text: str, minute: float, *, direction: str = "in",
       sender: str = "李四") -> dict:
    return dict(platform_message_id=mid, platform_conversation_id=conversation, text=text,
                created_at=at(minute), direction=direction, sender_id=f"u-{sender}", sender_name=sender)


def content(cid: str, title: str | None = None) -> dict:
    return dict(platform_content_id=cid, title=title)


def conversation(cid: str, peer_name: str | None = None) -> dict:
    return dict(platform_conversation_id=cid, peer_id=f"peer-{cid}", peer_name=peer_name)
