"""/api/im/*: the seed documents' IM API (PROTOCOL.md §5) over the engine's IM views.

Answers are `{data, status_code: 0}` (errors `{data: null, status_code, status_msg}`);
`account_id` is required. `cursor` is an integer offset and `count` the page size; the next
`cursor` is `cursor + returned` and `has_more` says exactly whether anything follows (the
original guessed it from a full page, §8.18): one more item than asked for is read. Where the
cursor goes (inside `data` or beside it) follows §5 route by route.

The views page by keyset; an offset is reached by walking their pages, so nothing is counted
or sorted here. Lists are newest first: topics by latest activity, messages by time.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ...engine.im.messages import MAX_PAGE
from ...engine.im.types import Message, Page, Topic
from ...engine.store.models import ReplyStatus
from .table import IM, ApiError, Call, RouteTable

routes = RouteTable()
T = TypeVar("T")
MAX_OFFSET = 100_000


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    cursor: int = Field(0, ge=0, le=MAX_OFFSET, description="offset: the previous answer's cursor")
    count: int = Field(20, ge=1, le=100)


class ImQuery(PageQuery):
    account_id: str = Field(min_length=1, max_length=64)


class MessagesQuery(ImQuery):
    conversation_id: str | None = Field(None, min_length=1, max_length=128)
    since_time: int | None = Field(None, ge=0, description="ms: messages created at or after it")


class DiscussionsQuery(ImQuery):
    content_id: str | None = Field(None, min_length=1, max_length=128)
    parent_comment_id: str | None = Field(None, min_length=1, max_length=128)


class UnifiedQuery(ImQuery):
    types: str = Field("comment,discussion,direct_message", max_length=100,
                       description="comma-separated: comment, discussion, direct_message")


class Person(BaseModel):
    user_id: str | None
    user_name: str | None
    avatar: str | None


class LastMessage(BaseModel):
    content: str
    msg_type: str = "text"
    create_time: int | None  # ms


class ImUser(BaseModel):
    user_id: str
    account_id: str
    user_name: str
    avatar: str | None
    platform: str
    status: str
    follower_count: int
    following_count: int
    created_at: int | None  # ms
    updated_at: int | None  # ms


class ImConversation(BaseModel):
    conversation_id: str
    conversation_type: str = "one_on_one"
    account_id: str
    participant: Person
    last_message: LastMessage | None
    unread_count: int
    message_count: int
    is_pinned: bool = False
    is_muted: bool = False
    platform: str
    update_time: int | None  # ms


class ImMessage(BaseModel):
    msg_id: str
    conversation_id: str
    account_id: str
    sender: Person
    receiver: Person
    msg_type: str = "text"
    content: str
    create_time: int  # ms
    is_read: bool
    direction: Literal["inbound", "outbound"]
    status: Literal["sending", "sent", "failed"]
    platform: str


class ContentStats(BaseModel):
    total_comments: int
    new_comments: int


class ImContent(BaseModel):
    content_id: str
    account_id: str
    platform: str
    title: str
    cover: str | None
    url: str | None
    stats: ContentStats
    last_comment_time: int | None  # ms


class Author(BaseModel):
    author_id: str | None
    author_name: str | None
    avatar: str | None


class ImDiscussion(BaseModel):
    discussion_id: str
    account_id: str
    platform: str
    content_id: str
    parent_comment_id: str | None
    content: str
    author: Author
    direction: Literal["incoming", "outgoing"]
    is_read: bool
    created_at: int  # ms


class UnifiedMessage(BaseModel):
    id: str
    business_type: Literal["comment", "discussion", "direct_message"]
    account_id: str
    platform: str
    topic_id: str = Field(description="the work or the conversation")
    parent_comment_id: str | None
    content: str
    sender: Person
    direction: str
    is_read: bool
    created_at: int  # s (as the original)


class Users(BaseModel):
    users: list[ImUser]
    cursor: int
    has_more: bool


class Conversations(BaseModel):
    conversations: list[ImConversation]
    cursor: int
    has_more: bool


class Messages(BaseModel):
    messages: list[ImMessage]
    cursor: int
    has_more: bool


class UsersAnswer(BaseModel):
    data: Users


class ConversationsAnswer(BaseModel):
    data: Conversations


class MessagesAnswer(BaseModel):
    data: Messages


class ContentList(BaseModel):
    contents: list[ImContent]


class ContentsAnswer(BaseModel):
    data: ContentList
    cursor: int
    has_more: bool


class DiscussionList(BaseModel):
    discussions: list[ImDiscussion]


class DiscussionsAnswer(BaseModel):
    data: DiscussionList
    cursor: int
    has_more: bool


class UnifiedList(BaseModel):
    messages: list[UnifiedMessage]


class UnifiedAnswer(BaseModel):
    data: UnifiedList
    cursor: int
    has_more: bool


# ---- Paging


async def offset_window(fetch: Callable[[str | None, int], Awaitable[Page[T]]], offset: int,
                        count: int) -> tuple[list[T], bool]:
    """Items `offset` to `offset + count` of a keyset-paged list, and whether more follow."""
    wanted = offset + count + 1
    items: list[T] = []
    cursor: str | None = None
    while len(items) < wanted:
        page = await fetch(cursor, min(MAX_PAGE, wanted - len(items)))
        items += page.items
        cursor = page.after
        if cursor is None:
            break
    return items[offset:offset + count], len(items) > offset + count


def ms(at: datetime | None) -> int | None:
    return None if at is None else int(at.timestamp() * 1000)


async def _account(call: Call):
    account = await call.engine.accounts.get(call.query.account_id)
    if account is None:
        raise ApiError(404, f"no account {call.query.account_id!r}")
    return account


def _topics(call: Call, kind: str) -> Callable[[str | None, int], Awaitable[Page[Topic]]]:
    def fetch(cursor: str | None, limit: int) -> Awaitable[Page[Topic]]:
        return call.engine.views.topics(call.query.account_id, kind=kind, limit=limit, cursor=cursor)

    return fetch


def _timeline(call: Call, **options: Any) -> Callable[[str | None, int], Awaitable[Page[Message]]]:
    def fetch(cursor: str | None, limit: int) -> Awaitable[Page[Message]]:
        return call.engine.views.account_messages(call.query.account_id, after=cursor, limit=limit, **options)

    return fetch


def _status(message: Message) -> Literal["sending", "sent", "failed"]:
    if message.reply_status in (ReplyStatus.QUEUED.value, ReplyStatus.SENDING.value, ReplyStatus.UNCERTAIN.value):
        return "sending"
    if message.reply_status in (ReplyStatus.FAILED.value, ReplyStatus.BLOCKED.value, ReplyStatus.CANCELLED.value):
        return "failed"
    return "sent"


# ---- Routes


@routes.get("/api/im/accounts", "The accounts, as IM users", IM, answer=UsersAnswer, query=PageQuery)
async def im_accounts(call: Call) -> UsersAnswer:
    rows = await call.engine.accounts.list()
    q: PageQuery = call.query
    window, more = rows[q.cursor:q.cursor + q.count], len(rows) > q.cursor + q.count
    users = [ImUser(
        user_id=row.platform_user_id or row.id, account_id=row.id,
        user_name=row.platform_username or row.display_name, avatar=row.avatar_url, platform=row.platform,
        status="active" if row.monitor_enabled else "inactive",
        follower_count=_int((row.user_info or {}).get("followers")),
        following_count=_int((row.user_info or {}).get("following")),
        created_at=ms(row.created_at), updated_at=ms(row.updated_at)) for row in window]
    return UsersAnswer(data=Users(users=users, cursor=q.cursor + len(users), has_more=more))


@routes.get("/api/im/conversations", "An account's DM conversations, latest activity first", IM,
            answer=ConversationsAnswer, query=ImQuery, errors=(400, 404))
async def im_conversations(call: Call) -> ConversationsAnswer:
    account = await _account(call)
    q: ImQuery = call.query
    window, more = await offset_window(_topics(call, "conversation"), q.cursor, q.count)
    items = [ImConversation(
        conversation_id=topic.ref.platform_id, account_id=account.id,
        participant=Person(user_id=topic.ref.platform_id, user_name=topic.title, avatar=topic.avatar_url),
        last_message=LastMessage(content=topic.last_message_preview, create_time=ms(topic.last_message_at))
        if topic.last_message_preview is not None else None,
        unread_count=topic.unread_count, message_count=topic.message_count, platform=account.platform,
        update_time=ms(topic.last_message_at)) for topic in window]
    return ConversationsAnswer(data=Conversations(conversations=items, cursor=q.cursor + len(items),
                                                  has_more=more))


@routes.get("/api/im/messages", "An account's direct messages (one conversation's with conversation_id), "
            "newest first", IM, answer=MessagesAnswer, query=MessagesQuery, errors=(400, 404))
async def im_messages(call: Call) -> MessagesAnswer:
    account = await _account(call)
    q: MessagesQuery = call.query
    since = None if q.since_time is None else _utc(q.since_time)
    window, more = await offset_window(
        _timeline(call, kinds=("direct_message",), topic_id=q.conversation_id, since=since), q.cursor, q.count)
    me = Person(user_id=account.platform_user_id, user_name=account.platform_username or account.display_name,
                avatar=account.avatar_url)
    peers: dict[str, Person] = {}
    items = []
    for message in window:
        peer = peers.get(message.topic.platform_id)
        if peer is None:
            topic = await call.engine.views.topic(message.topic)
            peer = peers[message.topic.platform_id] = Person(
                user_id=message.topic.platform_id, user_name=topic.title if topic else None,
                avatar=topic.avatar_url if topic else None)
        ours = message.direction == "out"
        author = Person(user_id=message.author_id, user_name=message.author_name, avatar=message.author_avatar)
        items.append(ImMessage(
            msg_id=message.id, conversation_id=message.topic.platform_id, account_id=account.id,
            sender=me if ours else author, receiver=peer if ours else me, content=message.text,
            create_time=ms(message.created_at), is_read=message.is_read,
            direction="outbound" if ours else "inbound", status=_status(message), platform=account.platform))
    return MessagesAnswer(data=Messages(messages=items, cursor=q.cursor + len(items), has_more=more))


@routes.get("/api/im/contents", "An account's works, latest comment first", IM, answer=ContentsAnswer,
            query=ImQuery, errors=(400, 404))
async def im_contents(call: Call) -> ContentsAnswer:
    account = await _account(call)
    q: ImQuery = call.query
    window, more = await offset_window(_topics(call, "content"), q.cursor, q.count)
    items = [ImContent(
        content_id=topic.ref.platform_id, account_id=account.id, platform=account.platform, title=topic.title,
        cover=topic.avatar_url, url=topic.url,
        stats=ContentStats(total_comments=topic.message_count, new_comments=topic.unread_count),
        last_comment_time=ms(topic.last_message_at)) for topic in window]
    return ContentsAnswer(data=ContentList(contents=items), cursor=q.cursor + len(items), has_more=more)


@routes.get("/api/im/discussions", "Replies to comments (of one work, or of one comment), newest first", IM,
            answer=DiscussionsAnswer, query=DiscussionsQuery, errors=(400, 404))
async def im_discussions(call: Call) -> DiscussionsAnswer:
    account = await _account(call)
    q: DiscussionsQuery = call.query
    window, more = await offset_window(
        _timeline(call, kinds=("comment",), topic_id=q.content_id, threads="replies",
                  parent_id=q.parent_comment_id), q.cursor, q.count)
    items = [ImDiscussion(
        discussion_id=m.id, account_id=account.id, platform=account.platform, content_id=m.topic.platform_id,
        parent_comment_id=m.reply_to_id, content=m.text,
        author=Author(author_id=m.author_id, author_name=m.author_name, avatar=m.author_avatar),
        direction="outgoing" if m.direction == "out" else "incoming", is_read=m.is_read,
        created_at=ms(m.created_at)) for m in window]
    return DiscussionsAnswer(data=DiscussionList(discussions=items), cursor=q.cursor + len(items), has_more=more)


UNIFIED_TYPES = ("comment", "discussion", "direct_message")


@routes.get("/api/im/unified-messages", "Comments, replies to comments and DMs in one list, newest first", IM,
            answer=UnifiedAnswer, query=UnifiedQuery, errors=(400, 404))
async def im_unified(call: Call) -> UnifiedAnswer:
    account = await _account(call)
    q: UnifiedQuery = call.query
    types = {t.strip() for t in q.types.split(",") if t.strip()}
    unknown = types - set(UNIFIED_TYPES)
    if unknown or not types:
        raise ApiError(400, f"types: expected some of {', '.join(UNIFIED_TYPES)} (got {q.types!r})")
    kinds = (("comment",) if types & {"comment", "discussion"} else ()) + (
        ("direct_message",) if "direct_message" in types else ())
    threads = "all" if {"comment", "discussion"} <= types else "top" if "comment" in types else "replies"
    window, more = await offset_window(_timeline(call, kinds=kinds, threads=threads), q.cursor, q.count)
    items = []
    for m in window:
        ours = m.direction == "out"
        if m.kind == "direct_message":
            business, direction = "direct_message", "outbound" if ours else "inbound"
        else:
            business = "discussion" if m.reply_to_id else "comment"
            direction = "outgoing" if ours else "incoming"
        items.append(UnifiedMessage(
            id=m.id, business_type=business, account_id=account.id, platform=account.platform,
            topic_id=m.topic.platform_id, parent_comment_id=m.reply_to_id, content=m.text,
            sender=Person(user_id=m.author_id, user_name=m.author_name, avatar=m.author_avatar),
            direction=direction, is_read=m.is_read, created_at=int(m.created_at.timestamp())))
    return UnifiedAnswer(data=UnifiedList(messages=items), cursor=q.cursor + len(items), has_more=more)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _utc(ms_value: int) -> datetime:
    return datetime.fromtimestamp(ms_value / 1000, tz=timezone.utc)
