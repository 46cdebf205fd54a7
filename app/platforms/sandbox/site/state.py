"""The sandbox site's in-memory world: creators, their works, comments, DM conversations,
login tickets, sessions and the faults switched on through the control API.

Everything is per creator (the user a browser logs in as). Ids look like a real platform's
snowflake ids: numeric strings that grow with time. A creator's seeded works and comments get
(smaller) ids derived from the creator's name, so the same creator has the same works after a restart;
injected traffic gets time-based ids, so it never collides with what an earlier run stored.
The world can be saved to and loaded from a JSON file (`to_dict`/`from_dict`), which keeps
sessions (and so logged-in browser contexts) valid across restarts of the console. Every
change is also described by a journal entry (`journal` receives it the moment it happens,
`replay` applies it to a loaded world), so the site can keep each change durable without
rewriting the whole world (app.py).
"""
from __future__ import annotations

import asyncio
import hashlib
import random
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Literal

TicketStatus = Literal["waiting", "scanned", "sms_required", "confirmed", "failed", "expired"]
Standing = Literal["ok", "verify", "blocked"]  # the site's view of a creator account
STANDINGS: tuple[str, ...] = ("ok", "verify", "blocked")

# Once scanned, a ticket stays usable this long (the phone step and the SMS code take time).
SCANNED_TICKET_TTL_S = 300.0
MAX_SMS_ATTEMPTS = 3
_ID_EPOCH_MS = 1_577_836_800_000  # 2020-01-01, as snowflake ids count from a recent epoch


class WorldError(Exception):
    """A request the world cannot satisfy; `code` is the site's status_code for it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Site status codes (the JSON `status_code`), shared by the API, the pages and the adapter.
OK = 0
LOGIN_REQUIRED = 8
BAD_REQUEST = 1001
NOT_FOUND = 3001  # the work/comment/conversation does not exist or was deleted
TEXT_REJECTED = 3002
RATE_LIMITED = 2154
VERIFY_REQUIRED = 2190  # the account must pass a verification (slider, SMS) before going on
ACCOUNT_BLOCKED = 2149  # the account is banned


@dataclass
class Person:
    uid: str
    nickname: str

    @property
    def avatar_path(self) -> str:
        return f"/avatars/{self.uid}.svg"


@dataclass
class Work:
    work_id: str
    title: str
    create_time: float
    play_count: int = 0
    digg_count: int = 0

    @property
    def cover_path(self) -> str:
        return f"/covers/{self.work_id}.svg"


@dataclass
class Comment:
    cid: str
    work_id: str
    user: Person
    text: str
    create_time: float
    root_cid: str | None = None  # the first-level comment of this thread; None = first level
    reply_to_cid: str | None = None  # the second-level reply answered, if any
    reply_to_user: Person | None = None
    is_author: bool = False
    digg_count: int = 0
    deleted: bool = False


@dataclass
class DirectMessage:
    msg_id: str
    conversation_id: str
    sender: Person
    is_from_me: bool
    text: str
    created_at: float


@dataclass
class Conversation:
    conversation_id: str
    peer: Person
    messages: list[DirectMessage] = field(default_factory=list)
    unread_count: int = 0

    @property
    def updated_at(self) -> float:
        return self.messages[-1].created_at if self.messages else 0.0


@dataclass
class Creator:
    me: Person
    unique_id: str
    works: dict[str, Work] = field(default_factory=dict)  # insertion order = oldest first
    comments: dict[str, Comment] = field(default_factory=dict)
    conversations: dict[str, Conversation] = field(default_factory=dict)
    standing: Standing = "ok"

    def comment_count(self, work_id: str) -> int:
        return sum(1 for c in self.comments.values() if c.work_id == work_id and not c.deleted)

    def newest_comment_id(self, work_id: str) -> str:
        """The id of the work's newest live comment, a reply or not ("0" for none)."""
        live = [c for c in self.comments.values() if c.work_id == work_id and not c.deleted]
        return max(live, key=_listed).cid if live else "0"


@dataclass
class LoginTicket:
    token: str
    expires_at: float
    status: TicketStatus = "waiting"
    creator_name: str | None = None
    sms_code: str | None = None
    sms_attempts: int = 0
    reason: str | None = None
    consumed: bool = False


@dataclass
class Session:
    token: str
    uid: str
    created_at: float
    expired: bool = False


@dataclass
class Faults:
    """Misbehaviour switched on by the control API (tests, demos)."""

    rate_limit: bool = False  # every reply/DM send answers RATE_LIMITED ("blocked")
    delay_ms: int = 0  # every page and API answer waits this long first
    send_answer_delay_ms: int = 0  # a reply/DM send is stored at once, its answer comes this late
    fail_login: str | None = None  # confirming a QR login fails with this reason
    sms_required: bool = False  # an SMS code is asked for after the phone confirms
    qr_ttl_s: float = 60.0  # a QR code expires (and the login page refreshes it) after this


class IdGenerator:
    """Snowflake-like ids: milliseconds since 2020 shifted left, plus a sequence."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        candidate = (int(time.time() * 1000) - _ID_EPOCH_MS) << 22
        self._last = max(candidate, self._last + 1)
        return str(self._last)


def stable_id(*parts: object) -> str:
    """An 18-digit id derived from `parts` (the same parts give the same id in every run),
    below the time-based ids (which are past 9 * 10**17 since 2026)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return str(10**17 + int.from_bytes(digest[:8], "big") % (4 * 10**17))


def person_for(nickname: str) -> Person:
    """The audience member with this nickname (the same uid every time)."""
    return Person(uid=stable_id("user", nickname)[:16], nickname=nickname)


class World:
    """All the site's state. Methods raise WorldError with a site status code."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self.creators: dict[str, Creator] = {}  # by uid
        self.tickets: dict[str, LoginTicket] = {}
        self.sessions: dict[str, Session] = {}
        self.ids = IdGenerator()
        self.version = 0  # bumped on every change; the site saves the world when it moves
        self.journal: Callable[[dict[str, Any]], None] | None = None  # told every change (app.py)
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}

    # ---- creators ----------------------------------------------------------------------
    def creator_by_name(self, name: str) -> Creator | None:
        return next((c for c in self.creators.values() if c.me.nickname == name), None)

    def ensure_creator(self, name: str) -> Creator:
        """The creator with this name, created with a few seeded works on first use."""
        name = name.strip()
        if not name or len(name) > 64:
            raise WorldError(BAD_REQUEST, "a creator name needs 1 to 64 characters")
        existing = self.creator_by_name(name)
        if existing:
            return existing
        creator = _seed_creator(name, time.time())
        self.creators[creator.me.uid] = creator
        self._changed({"op": "creator", "creator": asdict(creator)})
        return creator

    def set_standing(self, creator: Creator, standing: str) -> None:
        """Hold the account for a verification, block it, or clear it (control API)."""
        if standing not in STANDINGS:
            raise WorldError(BAD_REQUEST, f"standing is one of {', '.join(STANDINGS)}")
        creator.standing = standing  # type: ignore[assignment]
        self._changed({"op": "standing", "uid": creator.me.uid, "standing": standing})

    def check_standing(self, creator: Creator) -> None:
        """The error every data request of a held or blocked account gets."""
        if creator.standing == "verify":
            raise WorldError(VERIFY_REQUIRED, "请完成安全验证 verify this account to continue")
        if creator.standing == "blocked":
            raise WorldError(ACCOUNT_BLOCKED, "账号已被封禁 this account is blocked")

    def creator(self, uid: str) -> Creator:
        try:
            return self.creators[uid]
        except KeyError:
            raise WorldError(NOT_FOUND, f"no creator {uid}") from None

    # ---- login tickets and sessions ----------------------------------------------------
    def new_ticket(self) -> LoginTicket:
        self.expire_tickets()
        ticket = LoginTicket(token=secrets.token_urlsafe(18), expires_at=time.time() + self.faults.qr_ttl_s)
        self.tickets[ticket.token] = ticket
        return ticket

    def ticket(self, token: str) -> LoginTicket:
        self.expire_tickets()
        try:
            return self.tickets[token]
        except KeyError:
            raise WorldError(NOT_FOUND, "unknown or expired QR code") from None

    def scan(self, token: str) -> LoginTicket:
        ticket = self.ticket(token)
        if ticket.status == "waiting":
            ticket.status = "scanned"
            ticket.expires_at = time.time() + SCANNED_TICKET_TTL_S
        elif ticket.status != "scanned":
            raise WorldError(BAD_REQUEST, f"this QR code is {ticket.status}")
        return ticket

    def confirm(self, token: str, creator_name: str) -> LoginTicket:
        """The phone confirms the login as `creator_name` (scanning first if needed)."""
        ticket = self.scan(token)
        self.ensure_creator(creator_name)
        ticket.creator_name = creator_name.strip()
        if self.faults.fail_login:
            ticket.status, ticket.reason = "failed", self.faults.fail_login
        elif self.faults.sms_required:
            ticket.status, ticket.sms_code = "sms_required", f"{random.randrange(10**6):06d}"
        else:
            ticket.status = "confirmed"
        return ticket

    def submit_sms(self, token: str, code: str) -> LoginTicket:
        ticket = self.ticket(token)
        if ticket.status != "sms_required":
            raise WorldError(BAD_REQUEST, f"this login is {ticket.status}, not waiting for a code")
        if code.strip() == ticket.sms_code:
            ticket.status = "confirmed"
            return ticket
        ticket.sms_attempts += 1
        if ticket.sms_attempts >= MAX_SMS_ATTEMPTS:
            ticket.status, ticket.reason = "failed", "too many wrong verification codes"
            return ticket
        raise WorldError(BAD_REQUEST, "验证码错误 wrong verification code")

    def complete_login(self, token: str) -> Session:
        """Turn a confirmed ticket into a session (once)."""
        ticket = self.ticket(token)
        if ticket.status != "confirmed" or ticket.consumed or not ticket.creator_name:
            raise WorldError(BAD_REQUEST, f"this login is {ticket.status}")
        ticket.consumed = True
        creator = self.ensure_creator(ticket.creator_name)
        session = Session(token=secrets.token_urlsafe(24), uid=creator.me.uid, created_at=time.time())
        self.sessions[session.token] = session
        self._changed({"op": "session", "session": asdict(session)})
        return session

    def session_creator(self, token: str | None) -> Creator | None:
        session = self.sessions.get(token or "")
        if session is None or session.expired:
            return None
        return self.creators.get(session.uid)

    def expire_sessions(self, creator_name: str | None = None) -> int:
        """Log browsers out (all, or one creator's); returns how many sessions ended."""
        ended = []
        for session in self.sessions.values():
            creator = self.creators.get(session.uid)
            if not session.expired and (creator_name is None or (creator and creator.me.nickname == creator_name)):
                session.expired = True
                ended.append(session.token)
        count = len(ended)
        if count:
            self._changed({"op": "expire", "tokens": ended})
            self._notify_all({"type": "session_expired"})
        return count

    def expire_tickets(self) -> None:
        now = time.time()
        for token, ticket in list(self.tickets.items()):
            if ticket.expires_at < now and ticket.status in ("waiting", "scanned", "sms_required"):
                ticket.status = "expired"
            if ticket.expires_at + 600 < now:  # forget old tickets
                del self.tickets[token]

    # ---- comments ----------------------------------------------------------------------
    def work(self, creator: Creator, work_id: str) -> Work:
        try:
            return creator.works[work_id]
        except KeyError:
            raise WorldError(NOT_FOUND, "该作品不存在 this work does not exist") from None

    def live_comment(self, creator: Creator, cid: str) -> Comment:
        comment = creator.comments.get(cid)
        if comment is None or comment.deleted:
            raise WorldError(NOT_FOUND, "评论已删除 the comment was deleted")
        return comment

    def add_comment(
        self, creator: Creator, work_id: str, author: Person, text: str, *, reply_to: str | None = None,
        is_author: bool = False,
    ) -> Comment:
        """A new comment on a work; with `reply_to`, a reply in that comment's thread."""
        self.work(creator, work_id)
        text = _checked_text(text)
        comment = Comment(cid=self.ids.next(), work_id=work_id, user=author, text=text,
                          create_time=time.time(), is_author=is_author)
        if reply_to:
            parent = self.live_comment(creator, reply_to)
            if parent.work_id != work_id:
                raise WorldError(NOT_FOUND, "that comment belongs to another work")
            comment.root_cid = parent.root_cid or parent.cid
            comment.reply_to_cid = parent.cid if parent.root_cid else None
            comment.reply_to_user = parent.user
        creator.comments[comment.cid] = comment
        self._changed({"op": "comment", "uid": creator.me.uid, "comment": asdict(comment)})
        if not is_author:  # like the real platform's notice push: "someone commented"
            self._notify(creator.me.uid, {"type": "comment_notice", "work_id": work_id, "cid": comment.cid})
        return comment

    def reply_as_creator(self, creator: Creator, work_id: str, reply_to: str | None, text: str) -> Comment:
        self._check_rate_limit()
        return self.add_comment(creator, work_id, creator.me, text, reply_to=reply_to, is_author=True)

    def delete_comment(self, creator: Creator, cid: str) -> None:
        self.live_comment(creator, cid).deleted = True
        self._changed({"op": "delete", "uid": creator.me.uid, "cid": cid})

    def first_level(self, creator: Creator, work_id: str, *, after: str | None = None) -> list[Comment]:
        """First-level comments of a work, newest first; with `after` (the id of one of them,
        deleted or not), only those listed after it."""
        self.work(creator, work_id)
        found = [c for c in creator.comments.values() if c.work_id == work_id and not c.root_cid and not c.deleted]
        if after is not None:
            anchor = creator.comments.get(after)
            if anchor is None or anchor.work_id != work_id or anchor.root_cid:
                raise WorldError(BAD_REQUEST, "cursor is not a first-level comment of this work")
            found = [c for c in found if _listed(c) < _listed(anchor)]
        return sorted(found, key=_listed, reverse=True)

    def thread(self, creator: Creator, root_cid: str, *, newest_first: bool = False,
               after: str | None = None) -> list[Comment]:
        """The replies under a first-level comment, oldest first (or newest first); with
        `after` (the id of one of them, deleted or not), only those listed after it."""
        found = [c for c in creator.comments.values() if c.root_cid == root_cid and not c.deleted]
        if after is not None:
            anchor = creator.comments.get(after)
            if anchor is None or anchor.root_cid != root_cid:
                raise WorldError(BAD_REQUEST, "cursor is not a reply in this thread")
            at = _listed(anchor)
            found = [c for c in found if (_listed(c) < at if newest_first else _listed(c) > at)]
        return sorted(found, key=_listed, reverse=newest_first)

    # ---- direct messages ---------------------------------------------------------------
    def conversation(self, creator: Creator, conversation_id: str) -> Conversation:
        try:
            return creator.conversations[conversation_id]
        except KeyError:
            raise WorldError(NOT_FOUND, "该会话不存在 this conversation does not exist") from None

    def conversation_with(self, creator: Creator, peer: Person) -> Conversation:
        a, b = sorted((creator.me.uid, peer.uid), key=int)
        conversation_id = f"0:1:{a}:{b}"  # both uids in ascending order, as Douyin does
        conv = creator.conversations.get(conversation_id)
        if conv is None:
            conv = creator.conversations[conversation_id] = Conversation(conversation_id, peer)
        return conv

    def add_message(self, creator: Creator, conv: Conversation, text: str, *, from_me: bool) -> DirectMessage:
        message = DirectMessage(
            msg_id=self.ids.next(), conversation_id=conv.conversation_id,
            sender=creator.me if from_me else conv.peer, is_from_me=from_me,
            text=_checked_text(text), created_at=time.time(),
        )
        conv.messages.append(message)
        if not from_me:
            conv.unread_count += 1
        self._changed({"op": "message", "uid": creator.me.uid, "peer": asdict(conv.peer),
                       "message": asdict(message), "unread": conv.unread_count})
        return message

    def messages_before(self, conv: Conversation, before: str | None) -> list[DirectMessage]:
        """The conversation's messages, newest first; with `before` (a message id), only the
        older ones."""
        messages = conv.messages
        if before is not None:
            at = next((n for n, m in enumerate(messages) if m.msg_id == before), None)
            if at is None:
                raise WorldError(BAD_REQUEST, "cursor is not a message of this conversation")
            messages = messages[:at]
        return messages[::-1]

    def read_conversation(self, creator: Creator, conv: Conversation) -> None:
        """The creator opened the conversation: nothing in it is unread any more."""
        if conv.unread_count:
            conv.unread_count = 0
            self._changed({"op": "read", "uid": creator.me.uid, "conversation_id": conv.conversation_id})

    def send_as_creator(self, creator: Creator, conversation_id: str, text: str) -> DirectMessage:
        self._check_rate_limit()
        conv = self.conversation(creator, conversation_id)
        return self.add_message(creator, conv, text, from_me=True)

    def receive_dm(self, creator: Creator, sender: Person, text: str) -> tuple[Conversation, DirectMessage]:
        """An audience member writes to the creator; pushed to the creator's open pages."""
        conv = self.conversation_with(creator, sender)
        message = self.add_message(creator, conv, text, from_me=False)
        self._notify(creator.me.uid, {"type": "im_message", "conversation_id": conv.conversation_id,
                                      "msg_id": message.msg_id})
        return conv, message

    def messages_since(self, creator: Creator, since: float) -> list[DirectMessage]:
        """Inbound messages after `since` (a reconnecting page catches up with these)."""
        found = [m for conv in creator.conversations.values() for m in conv.messages
                 if m.created_at > since and not m.is_from_me]
        return sorted(found, key=lambda m: m.created_at)

    # ---- audience traffic (control API, simulator) -------------------------------------
    def pick_creator(self, name: str | None, rng: random.Random) -> Creator:
        """The named creator (created if new), or a random existing one."""
        if name:
            return self.ensure_creator(name)
        if not self.creators:
            raise WorldError(NOT_FOUND, "no creator has logged in yet; name one")
        return rng.choice(list(self.creators.values()))

    def inject_comment(
        self, creator_name: str | None, author: str, text: str, *, work_id: str | None = None,
        reply_to: str | None = None, as_reply: bool = False, rng: random.Random | None = None,
    ) -> tuple[Creator, Comment]:
        """An audience comment: on `work_id` or a random work; `as_reply` answers a random
        existing comment of that work (when it has any)."""
        rng = rng or random.Random()
        creator = self.pick_creator(creator_name, rng)
        if not creator.works:
            raise WorldError(NOT_FOUND, "this creator has no works")
        if reply_to:
            work_id = self.live_comment(creator, reply_to).work_id
        work_id = work_id or rng.choice(list(creator.works))
        if as_reply and not reply_to:
            candidates = [c.cid for c in creator.comments.values() if c.work_id == work_id and not c.deleted]
            reply_to = rng.choice(candidates) if candidates else None
        return creator, self.add_comment(creator, work_id, person_for(author), text, reply_to=reply_to)

    def inject_dm(
        self, creator_name: str | None, author: str, text: str, *, rng: random.Random | None = None
    ) -> tuple[Creator, Conversation, DirectMessage]:
        creator = self.pick_creator(creator_name, rng or random.Random())
        conv, message = self.receive_dm(creator, person_for(author), text)
        return creator, conv, message

    # ---- push listeners ----------------------------------------------------------------
    def listen(self, uid: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._listeners.setdefault(uid, set()).add(queue)
        return queue

    def unlisten(self, uid: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._listeners.get(uid, set()).discard(queue)

    def _notify(self, uid: str, event: dict[str, Any]) -> None:
        for queue in self._listeners.get(uid, ()):
            if not queue.full():  # a stuck page loses pushes; its next load catches up
                queue.put_nowait(event)

    def _notify_all(self, event: dict[str, Any]) -> None:
        for uid in self._listeners:
            self._notify(uid, event)

    # ---- helpers -----------------------------------------------------------------------
    def _check_rate_limit(self) -> None:
        if self.faults.rate_limit:
            raise WorldError(RATE_LIMITED, "操作太频繁，请稍后再试 rate limited, try again later")

    def _changed(self, entry: dict[str, Any]) -> None:
        self.version += 1
        if self.journal is not None:
            self.journal(entry)

    def replay(self, entry: dict[str, Any]) -> None:
        """Apply a journal entry written by `_changed` to this (loaded) world. Replaying an
        entry the world already holds changes nothing, so a journal that overlaps the
        snapshot it follows is harmless."""
        op = entry["op"]
        if op == "creator":
            creator = _creator_from_dict(entry["creator"])
            self.creators.setdefault(creator.me.uid, creator)
        elif op == "session":
            self.sessions[entry["session"]["token"]] = Session(**entry["session"])
        elif op == "expire":
            for token in entry["tokens"]:
                if token in self.sessions:
                    self.sessions[token].expired = True
        elif op == "comment":
            raw = entry["comment"]
            self.creators[entry["uid"]].comments[raw["cid"]] = _comment_from_dict(raw)
        elif op == "delete":
            self.creators[entry["uid"]].comments[entry["cid"]].deleted = True
        elif op == "message":
            creator = self.creators[entry["uid"]]
            message = DirectMessage(**{**entry["message"], "sender": Person(**entry["message"]["sender"])})
            conv = creator.conversations.get(message.conversation_id)
            if conv is None:
                conv = creator.conversations[message.conversation_id] = Conversation(
                    message.conversation_id, Person(**entry["peer"]))
            if all(m.msg_id != message.msg_id for m in conv.messages):
                conv.messages.append(message)
            conv.unread_count = entry["unread"]
        elif op == "read":
            self.creators[entry["uid"]].conversations[entry["conversation_id"]].unread_count = 0
        elif op == "standing":
            self.creators[entry["uid"]].standing = entry["standing"]
        else:
            raise ValueError(f"unknown journal entry {op!r}")

    # ---- persistence -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "creators": [asdict(c) for c in self.creators.values()],
            "sessions": [asdict(s) for s in self.sessions.values()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], faults: Faults | None = None) -> "World":
        world = cls(faults)
        for raw in data.get("creators", []):
            creator = _creator_from_dict(raw)
            world.creators[creator.me.uid] = creator
        for raw in data.get("sessions", []):
            world.sessions[raw["token"]] = Session(**raw)
        return world


def _listed(comment: Comment) -> tuple[float, int]:
    """Where a comment is in its list, a work's or a thread's (ids break ties of time)."""
    return comment.create_time, int(comment.cid)


def _checked_text(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise WorldError(TEXT_REJECTED, "内容不能为空 the text is empty")
    if len(text) > 2000:
        raise WorldError(TEXT_REJECTED, "内容过长 the text is longer than 2000 characters")
    return text


def _person(raw: dict[str, Any] | None) -> Person | None:
    return Person(**raw) if raw else None


def _comment_from_dict(c: dict[str, Any]) -> Comment:
    return Comment(**{**c, "user": Person(**c["user"]), "reply_to_user": _person(c["reply_to_user"])})


def _creator_from_dict(raw: dict[str, Any]) -> Creator:
    creator = Creator(me=Person(**raw["me"]), unique_id=raw["unique_id"], standing=raw.get("standing", "ok"))
    for w in raw["works"].values():
        creator.works[w["work_id"]] = Work(**w)
    for c in raw["comments"].values():
        creator.comments[c["cid"]] = _comment_from_dict(c)
    for v in raw["conversations"].values():
        conv = Conversation(v["conversation_id"], Person(**v["peer"]), unread_count=v["unread_count"])
        conv.messages = [DirectMessage(**{**m, "sender": Person(**m["sender"])}) for m in v["messages"]]
        creator.conversations[conv.conversation_id] = conv
    return creator


# ---- seeding -----------------------------------------------------------------------------
_SEED_TITLES = [
    "周末探店｜这家小面馆太绝了 🍜 #美食", "How I edit my videos in 10 minutes ✂️",
    "第一次带猫咪出门旅行 🐱✈️", "Morning routine 2025 ☀️ #vlog", "三分钟学会手冲咖啡 ☕",
    "Budget travel in Chengdu 🐼", "新手健身第30天打卡 💪",
]
_SEED_COMMENTS = [
    "太好看了吧！😍", "请问这是在哪里拍的？", "Love this! Where did you get the music?",
    "已关注，期待下一期 🙌", "哈哈哈笑死我了 🤣", "Can you share the recipe please?",
    "博主好有耐心 👍", "收藏了，周末就去试试",
]
_SEED_AUDIENCE = ["小鹿乱撞", "Emma Zhang", "夜猫子阿杰", "Lucas", "奶茶不加糖", "Mia Chen"]


def _seed_creator(name: str, now: float) -> Creator:
    """A new creator with three works, a few comments (one reply thread) and two DMs."""
    rng = random.Random(name)
    me = Person(uid=stable_id("creator", name)[:16], nickname=name)
    creator = Creator(me=me, unique_id=f"sbx{stable_id('unique', name)[:9]}")
    titles = rng.sample(_SEED_TITLES, 3)
    for i, title in enumerate(titles):
        work = Work(stable_id(name, "work", i), title, now - 86400 * (3 - i),
                    play_count=rng.randrange(500, 50000), digg_count=rng.randrange(10, 3000))
        creator.works[work.work_id] = work
        for j in range(rng.randrange(2, 5)):
            author = person_for(rng.choice(_SEED_AUDIENCE))
            comment = Comment(stable_id(name, "comment", i, j), work.work_id, author,
                              rng.choice(_SEED_COMMENTS), work.create_time + 600 * (j + 1))
            creator.comments[comment.cid] = comment
            if j == 0:
                reply = Comment(stable_id(name, "reply", i), work.work_id, me, "谢谢支持～ Thanks! 🙏",
                                comment.create_time + 60, root_cid=comment.cid,
                                reply_to_user=author, is_author=True)
                creator.comments[reply.cid] = reply
    for k, peer_name in enumerate(rng.sample(_SEED_AUDIENCE, 2)):
        peer = person_for(peer_name)
        a, b = sorted((me.uid, peer.uid), key=int)
        conv = Conversation(f"0:1:{a}:{b}", peer)
        conv.messages.append(DirectMessage(stable_id(name, "dm", k), conv.conversation_id, peer, False,
                                           "你好，想咨询一下合作 Hi, is a collab possible? 🤝", now - 3600 * (k + 1)))
        conv.unread_count = 1
        creator.conversations[conv.conversation_id] = conv
    return creator
