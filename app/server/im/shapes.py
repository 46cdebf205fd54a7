"""The engine's IM views in the original wire shapes (PROTOCOL.md §3.2): camelCase keys,
times in milliseconds (read_at, lastUpdate and account times in seconds), the original
client's fallbacks (客服 for our messages, 未知用户 for a nameless peer).

Pure functions of engine objects: the server never reads the database itself, so these
shapes are all it adds to what the console shows.
"""
from __future__ import annotations

import json
import time
from typing import Any

from ...engine.im.types import Channel, Message, Topic
from ...engine.outbox import ReplyRow
from ...engine.store.models import LoginStatus, ReplyStatus
from ..wire import login_status, ms, now_ms, seconds  # noqa: F401 (the wire's units, used here and by the handlers)

OUR_NAME = "客服"  # how the original client recognises our own messages
OUR_ID = "monitor_client"
UNKNOWN_USER = "未知用户"
UNTITLED_WORK = "无标题作品"
AVATAR_FALLBACK = "https://api.dicebear.com/7.x/avataaars/svg?seed={}"

# Outbox states as the original's message statuses (sending | sent | failed), ours otherwise.
_WIRE_STATUS = {
    ReplyStatus.QUEUED.value: "sending",
    ReplyStatus.SENDING.value: "sending",
    ReplyStatus.SENT.value: "sent",
    ReplyStatus.CONFIRMED.value: "sent",
    ReplyStatus.FAILED.value: "failed",
    ReplyStatus.BLOCKED.value: "failed",
    ReplyStatus.CANCELLED.value: "failed",
}
ON_PLATFORM = frozenset({ReplyStatus.SENT.value, ReplyStatus.CONFIRMED.value})


def wire_status(status: str) -> str:
    return _WIRE_STATUS.get(status, status)



def channel(c: Channel, worker_online: bool) -> dict[str, Any]:
    info = dict(c.user_info or {})
    info.setdefault("nickname", c.platform_username or c.name)
    info.setdefault("avatar", c.avatar_url)
    info.setdefault("platform_user_id", c.platform_user_id)
    logged_in = c.login_status == LoginStatus.LOGGED_IN.value
    return {
        "id": c.account_id,
        "name": c.platform_username or c.name or c.account_id,
        "avatar": c.avatar_url or AVATAR_FALLBACK.format(c.account_id),
        "userInfo": json.dumps(info, ensure_ascii=False),  # a JSON string, as the client parses it
        "platform": c.platform,
        "description": c.platform,
        "lastMessage": c.last_message_preview or "",
        "lastMessageTime": ms(c.last_message_at),
        "unreadCount": c.unread_count,
        "messageCount": c.message_count,
        "isPinned": False,
        "enabled": c.monitor_enabled,
        "status": "active" if c.monitor_enabled else "paused",
        "login_status": login_status(c.login_status),
        "worker_status": "online" if worker_online else "offline",
        "isLoggedIn": logged_in and worker_online,
    }


_WORK_COUNTS = ("view", "like", "comment", "share", "favorite", "danmaku", "dislike", "download",
                "subscribe", "unsubscribe")
_WORK_RATES = ("like", "comment", "share", "favorite", "dislike", "subscribe", "unsubscribe")
_WORK_FIGURES = ("coverShow", "homepageVisitCount", "avgViewSecond", "avgViewProportion", "bounceRate2s",
                 "completionRate", "completionRate5s", "fanViewProportion")


def topic(t: Topic) -> dict[str, Any]:
    common = {
        "id": t.ref.platform_id,
        "channelId": t.ref.account_id,
        "lastMessageTime": ms(t.last_message_at),
        "lastMessageContent": t.last_message_preview or "",
        "lastMessageFromName": t.last_message_from or "",
        "messageCount": t.message_count,
        "unreadCount": t.unread_count,
        "isPinned": False,
        "isPrivate": t.is_private,
        "createdTime": 0,  # not kept by the topic views
    }
    titled = t.title != t.ref.platform_id  # the views fall back to the id for a missing title
    if t.is_private:
        return {
            **common,
            "title": t.title if titled else UNKNOWN_USER,
            "avatar": t.avatar_url,
            "description": f"私信会话 ({t.message_count}条消息)",
        }
    work = {
        **common,
        "title": t.title if titled else UNTITLED_WORK,
        "avatar": t.avatar_url,
        "thumbnail": t.avatar_url,
        "description": "",
        "url": t.url,
    }
    work.update({f"{name}Count": 0 for name in _WORK_COUNTS})
    work.update({f"{name}Rate": 0 for name in _WORK_RATES})
    work.update({name: 0 for name in _WORK_FIGURES})
    return work


def topics(items: list[Topic]) -> list[dict[str, Any]]:
    """A channel's topics the original's way: empty conversations left out, unread first,
    then the most recent activity (the views' order, kept by the stable sort)."""
    shown = [t for t in items if not (t.is_private and t.message_count == 0)]
    shown.sort(key=lambda t: -t.unread_count)
    return [topic(t) for t in shown]


def message(m: Message) -> dict[str, Any]:
    # One dict made once (a page is 200 of them per request); the keys in the original's order.
    ours = m.direction == "out"
    at = ms(m.created_at)
    shape = {
        "id": m.id,
        "channelId": m.topic.account_id,
        "topicId": m.topic.platform_id,
        "fromName": OUR_NAME if ours else (m.author_name or UNKNOWN_USER),
        "fromId": OUR_ID if ours else m.author_id,
        "authorAvatar": m.author_avatar,
        "content": m.text,
        "timestamp": at,
        "serverTimestamp": at,
        "isRead": m.is_read,
    }
    if m.kind == "comment":
        reply_to = m.reply_to_id if m.reply_to_id not in (None, "", "0") else None
        shape.update(type="comment", messageCategory="comment", replyToId=reply_to,
                     replyToContent=m.reply_to_text if reply_to else None,
                     direction="outgoing" if ours else "incoming", isAuthorReply=ours)
    else:
        shape.update(type=m.message_type or "text", messageCategory="private", replyToId=None, replyToContent=None,
                     direction="outbound" if ours else "inbound", recipientId=None, recipientName=None)
    return shape


def shown_messages(items: list[Message]) -> list[dict[str, Any]]:
    """A topic's messages without our replies that are not on the platform: those waiting are
    in the sending queue, and a failed one was never said (the console shows it with its
    reason)."""
    return [message(m) for m in items if m.reply_status is None or m.reply_status in ON_PLATFORM]


def sending(row: ReplyRow) -> dict[str, Any]:
    """An outbox row in the sending queue (the original's SendingMessage)."""
    return {
        "id": row.id,
        "topicId": row.topic_platform_id,
        "channelId": row.account_id,
        "content": row.text,
        "fromName": OUR_NAME,
        "fromId": OUR_ID,
        "authorAvatar": None,
        "messageCategory": "private" if row.topic.kind == "conversation" else "comment",
        "status": "sending",
        "timestamp": ms(row.created_at),
        "replyToId": row.target_platform_id,
        "replyToContent": None,
    }


def sent_message(row: ReplyRow) -> dict[str, Any]:
    """Our reply once on the platform, as a message (`channel:message`): under the platform's
    id, which the next `monitor:messages` has too, so the client's upsert keeps one copy."""
    private = row.topic.kind == "conversation"
    shape = {
        "id": row.message_id,
        "channelId": row.account_id,
        "topicId": row.topic_platform_id,
        "fromName": OUR_NAME,
        "fromId": OUR_ID,
        "authorAvatar": None,
        "content": row.text,
        "timestamp": ms(row.created_at),
        "serverTimestamp": ms(row.sent_at or row.updated_at),
        "isRead": True,
        "status": wire_status(row.status),
        "replyId": row.id,
    }
    if private:
        return {**shape, "type": "text", "messageCategory": "private", "direction": "outbound",
                "replyToId": None, "replyToContent": None}
    return {**shape, "type": "comment", "messageCategory": "comment", "direction": "outgoing",
            "isAuthorReply": True, "replyToId": row.target_platform_id, "replyToContent": None}


def message_status(row_id: str, status: str, error: str | None, platform_reply_id: str | None) -> dict[str, Any]:
    return {"messageId": row_id, "status": wire_status(status), "replyStatus": status, "error": error,
            "platformReplyId": platform_reply_id, "timestamp": now_ms()}


def hint(c: Channel, t: Topic, n: int) -> dict[str, Any]:
    """`monitor:new_message_hint` for `n` new inbound messages of one topic."""
    titled = t.title != t.ref.platform_id
    shape = {"channelId": c.account_id, "platform": c.platform, "totalUnreadCount": c.unread_count,
             "timestamp": ms(t.last_message_at) or now_ms()}
    if t.is_private:
        return {**shape, "messageType": "private_message", "conversationId": t.ref.platform_id,
                "fromUserId": t.ref.platform_id, "fromUserName": t.title if titled else UNKNOWN_USER,
                "messageCount": n}
    return {**shape, "messageType": "comment", "topicId": t.ref.platform_id,
            "topicTitle": t.title if titled else UNTITLED_WORK, "commentCount": n}


def status_update(c: Channel, worker_online: bool) -> dict[str, Any]:
    info = c.user_info or {}
    return {"channel": {
        "id": c.account_id,
        "platform": c.platform,
        "accountName": c.name,
        "loginStatus": login_status(c.login_status),
        "workerStatus": "online" if worker_online else "offline",
        "platformUsername": c.platform_username,
        "platformUserId": c.platform_user_id,
        "avatar": c.avatar_url,
        "stats": {key: info.get(key, 0) for key in ("followers", "following", "comments", "contents")},
        "lastUpdate": int(time.time()),
    }}
