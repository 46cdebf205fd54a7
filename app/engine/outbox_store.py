"""The reply outbox's database transactions (DESIGN.md §5).

Every function here takes a Session and runs inside one `db.write`/`db.read` call, so each
step of a reply's life (queued, sending, sent, ...) is one committed transaction: whatever
moment the process dies at, the database says exactly how far the reply got.

A reply's text is also a message in its topic (the *placeholder*: direction "out", read,
reply_id = the reply's id, platform id "local:<reply id>"). Once the platform's id is known
the placeholder takes that id, so the next crawl updates it instead of adding a copy.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from .im.types import TopicRef
from .platform import ReplyTarget
from .store.counters import refresh_accounts, refresh_topics
from .store.merge import adopt_platform_copy, confirm_replies, reply_kind
from .store.models import (
    Account,
    Comment,
    Content,
    Conversation,
    Direction,
    DirectMessage,
    Reply,
    ReplyStatus,
    TargetType,
)

LOCAL_PREFIX = "local:"


class ReplyRejected(ValueError):
    """The operator's reply cannot be queued (empty or too long text, unknown topic, ...).
    `code` says which rule refused it, for a front end to say so in its own language."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


class ReplyStateError(Exception):
    """The requested change does not apply to the reply in its current state."""


class ReplyNotFound(LookupError):
    """No reply with that id (deleted with its account, or never existed)."""


@dataclass(frozen=True)
class ReplyRow:
    """A snapshot of one outbox row, as the UI and the server show it.

    `error_code` is the code of the last failed attempt (cleared once the reply is sent). It
    is kept when the operator retries, because a reply that has been attempted before is looked
    for on the platform before it is sent again (the attempt may have reached the platform
    before it failed); only "send again" after an uncertain look clears it.
    """

    id: str
    account_id: str
    target_type: str
    topic_platform_id: str
    target_platform_id: str | None
    text: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    platform_reply_id: str | None
    error_code: str | None
    error_message: str | None
    wait_code: str | None  # why it waits unattempted (Reply.wait_code), cleared when it is taken
    operator: str | None
    request_id: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    confirmed_at: datetime | None
    message_id: str  # the placeholder's platform id ("local:<id>" until the platform's is known)

    @property
    def topic(self) -> TopicRef:
        kind = "content" if self.target_type == TargetType.COMMENT.value else "conversation"
        return TopicRef(self.account_id, kind, self.topic_platform_id)

    @property
    def attempted_before(self) -> bool:
        """Whether an earlier attempt may have reached the platform (see the class doc)."""
        return self.error_code is not None


def placeholder_id(reply_id: str) -> str:
    return f"{LOCAL_PREFIX}{reply_id}"


# ---- Queries -------------------------------------------------------------------------------
def _message_model(target_type: str) -> type[Comment] | type[DirectMessage]:
    return Comment if target_type == TargetType.COMMENT.value else DirectMessage


def _placeholder(session: Session, reply: Reply) -> Comment | DirectMessage | None:
    model = _message_model(reply.target_type)
    return session.scalars(
        select(model).where(model.account_id == reply.account_id, model.reply_id == reply.id)
    ).first()


def _message_id(row: Comment | DirectMessage) -> str:
    return row.platform_comment_id if isinstance(row, Comment) else row.platform_message_id


def _snapshot(session: Session, reply: Reply) -> ReplyRow:
    placeholder = _placeholder(session, reply)
    return ReplyRow(
        id=reply.id,
        account_id=reply.account_id,
        target_type=reply.target_type,
        topic_platform_id=reply.topic_platform_id,
        target_platform_id=reply.target_platform_id,
        text=reply.text,
        status=reply.status,
        attempts=reply.attempts,
        next_attempt_at=reply.next_attempt_at,
        platform_reply_id=reply.platform_reply_id,
        error_code=reply.error_code,
        error_message=reply.error_message,
        wait_code=reply.wait_code,
        operator=reply.operator,
        request_id=reply.request_id,
        created_at=reply.created_at,
        updated_at=reply.updated_at,
        sent_at=reply.sent_at,
        confirmed_at=reply.confirmed_at,
        message_id=_message_id(placeholder) if placeholder is not None else placeholder_id(reply.id),
    )


def get_reply(session: Session, reply_id: str) -> ReplyRow | None:
    reply = session.get(Reply, reply_id)
    return _snapshot(session, reply) if reply is not None else None


def list_replies(
    session: Session, account_id: str | None, statuses: tuple[str, ...] | None, limit: int
) -> list[ReplyRow]:
    query = select(Reply).order_by(Reply.created_at.desc(), Reply.id).limit(limit)
    if account_id is not None:
        query = query.where(Reply.account_id == account_id)
    if statuses is not None:
        query = query.where(Reply.status.in_(statuses))
    return [_snapshot(session, r) for r in session.scalars(query)]


def topic_queue(session: Session, ref: TopicRef, statuses: tuple[str, ...]) -> list[ReplyRow]:
    """The topic's replies in these statuses, oldest first (what a client shows as sending)."""
    target_type = TargetType.COMMENT.value if ref.kind == "content" else TargetType.DIRECT_MESSAGE.value
    rows = session.scalars(_TOPIC_QUEUE, {"statuses": list(statuses), "account_id": ref.account_id,
                                         "target_type": target_type, "topic": ref.platform_id})
    return [_snapshot(session, r) for r in rows]


# Built once: every monitor:request_messages asks for its topic's queue, and building the
# statement cost more than running it (usually on no rows).
_TOPIC_QUEUE = (
    select(Reply)
    .where(Reply.status.in_(bindparam("statuses", expanding=True)), Reply.account_id == bindparam("account_id"),
           Reply.target_type == bindparam("target_type"), Reply.topic_platform_id == bindparam("topic"))
    .order_by(Reply.created_at, Reply.id)
)


def due_accounts(session: Session, now: datetime) -> tuple[list[tuple[str, str | None]], datetime | None]:
    """Accounts whose oldest queued reply is due now, each with the worker it is bound to
    (who may send it), and when the next one that waits for its backoff becomes due (see
    `claim_next`: an account's replies leave in order)."""
    heads: dict[str, tuple[datetime | None, str | None]] = {}
    rows = session.execute(
        select(Reply.account_id, Reply.next_attempt_at, Account.worker_id)
        .join(Account, Account.id == Reply.account_id)
        .where(Reply.status == ReplyStatus.QUEUED.value)
        .order_by(Reply.account_id, Reply.created_at, Reply.id)
    )
    for account_id, next_attempt_at, worker_id in rows:
        heads.setdefault(account_id, (next_attempt_at, worker_id))
    due = [(a, worker) for a, (at, worker) in heads.items() if at is None or at <= now]
    waiting = [at for at, _ in heads.values() if at is not None and at > now]
    return due, min(waiting, default=None)


def account_platform(session: Session, account_id: str) -> str | None:
    """The platform of the account (None: no such account)."""
    return session.scalar(select(Account.platform).where(Account.id == account_id))


def platform_id_owner(session: Session, account_id: str, platform_reply_id: str) -> str | None:
    """The reply that already owns this platform id, if any."""
    return session.scalar(
        select(Reply.id).where(
            Reply.account_id == account_id, Reply.platform_reply_id == platform_reply_id
        )
    )


# ---- Queueing a reply ----------------------------------------------------------------------
def enqueue(
    session: Session,
    ref: TopicRef,
    text: str,
    reply_to: str | None,
    operator: str | None,
    request_id: str | None,
    now: datetime,
) -> tuple[ReplyRow, bool]:
    """Insert the reply and its placeholder message; (row, False) for a repeated request_id."""
    if request_id is not None:
        existing = session.scalars(select(Reply).where(Reply.request_id == request_id)).first()
        if existing is not None:
            row = _snapshot(session, existing)
            if (row.topic, row.target_platform_id, row.text) != (ref, reply_to, text):
                # A client's bug or a reused id: answering with the first reply would tell it
                # that this other text was queued.
                raise ReplyRejected(f"request id {request_id!r} was used for another reply", "request_id_reused")
            return row, False
    account = session.get(Account, ref.account_id)
    if account is None:
        raise ReplyRejected(f"unknown account {ref.account_id!r}", "unknown_account")
    _check_topic(session, ref, reply_to)
    reply = Reply(
        id=str(uuid.uuid4()),
        request_id=request_id,
        account_id=ref.account_id,
        target_type=TargetType.COMMENT.value if ref.kind == "content" else TargetType.DIRECT_MESSAGE.value,
        topic_platform_id=ref.platform_id,
        target_platform_id=reply_to,
        text=text,
        status=ReplyStatus.QUEUED.value,
        attempts=0,
        operator=operator,
        created_at=now,
        updated_at=now,
    )
    session.add(reply)
    session.add(_new_placeholder(account, reply, now))
    session.flush()
    refresh_topics(session, [ref])
    refresh_accounts(session, [ref.account_id])
    return _snapshot(session, reply), True


def _check_topic(session: Session, ref: TopicRef, reply_to: str | None) -> None:
    if ref.kind == "content":
        model: Any = Content
        key = Content.platform_content_id
    elif ref.kind == "conversation":
        model, key = Conversation, Conversation.platform_conversation_id
    else:
        raise ReplyRejected(f"unknown topic kind {ref.kind!r}", "unknown_topic")
    found = session.scalar(select(model.id).where(model.account_id == ref.account_id, key == ref.platform_id))
    if found is None:
        raise ReplyRejected(f"unknown topic {ref.platform_id!r} of account {ref.account_id!r}", "unknown_topic")
    if reply_to is None:
        return
    if ref.kind != "content":
        raise ReplyRejected("a direct message cannot reply to a comment", "unknown_target")
    if reply_to.startswith(LOCAL_PREFIX):
        raise ReplyRejected("the reply you answer is not on the platform yet; wait until it is sent", "target_not_sent")
    parent = session.scalar(
        select(Comment.id).where(
            Comment.account_id == ref.account_id,
            Comment.platform_content_id == ref.platform_id,
            Comment.platform_comment_id == reply_to,
        )
    )
    if parent is None:
        raise ReplyRejected(f"unknown comment {reply_to!r} in this topic", "unknown_target")


def _new_placeholder(account: Account, reply: Reply, now: datetime) -> Comment | DirectMessage:
    author_name = account.platform_username or account.display_name
    common: dict[str, Any] = dict(
        account_id=account.id,
        text=reply.text,
        created_at=now,
        detected_at=now,
        direction=Direction.OURS.value,
        is_read=True,
        reply_id=reply.id,
    )
    if reply.target_type == TargetType.COMMENT.value:
        return Comment(
            platform_comment_id=placeholder_id(reply.id),
            platform_content_id=reply.topic_platform_id,
            parent_platform_comment_id=reply.target_platform_id,
            author_id=account.platform_user_id,
            author_name=author_name,
            author_avatar=account.avatar_url,
            **common,
        )
    return DirectMessage(
        platform_message_id=placeholder_id(reply.id),
        platform_conversation_id=reply.topic_platform_id,
        sender_id=account.platform_user_id,
        sender_name=author_name,
        sender_avatar=account.avatar_url,
        **common,
    )


# ---- The dispatcher's steps ----------------------------------------------------------------
def _oldest_queued(session: Session, account_id: str) -> Reply | None:
    """The account's reply that goes next: its replies leave first in, first out."""
    return session.scalars(
        select(Reply)
        .where(Reply.account_id == account_id, Reply.status == ReplyStatus.QUEUED.value)
        .order_by(Reply.created_at, Reply.id)
        .limit(1)
    ).first()


def claim_next(
    session: Session, account_id: str, now: datetime, engine_id: str | None = None
) -> tuple[ReplyRow, ReplyTarget] | None:
    """Mark the account's oldest queued reply `sending` by the engine `engine_id` (attempts + 1)
    if it is due; returns it with its target, described as the database knows it now (see
    ReplyTarget).

    Strictly first in, first out per account: while the oldest reply waits for its backoff the
    younger ones wait too, so a conversation's replies reach the platform in order.
    """
    reply = _oldest_queued(session, account_id)
    if reply is None or (reply.next_attempt_at is not None and reply.next_attempt_at > now):
        return None
    # Taken only if still queued when the row is written: another process on the same
    # database (PostgreSQL) that took it first has made it `sending`, and this one skips it.
    taken = session.execute(
        update(Reply)
        .where(Reply.id == reply.id, Reply.status == ReplyStatus.QUEUED.value)
        .values(status=ReplyStatus.SENDING.value, attempts=Reply.attempts + 1, next_attempt_at=None,
                wait_code=None, sending_by=engine_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        return None
    session.refresh(reply)
    return _snapshot(session, reply), _target(session, reply)


def wait_for_holder(
    session: Session, account_id: str, code: str, reason: str, now: datetime
) -> ReplyRow | None:
    """Say on the account's oldest queued reply why it waits (no holder serves its account
    here: `code` for the console, `reason` in words); its attempts and its error code (whether
    it was attempted before) stay. None when it says so already."""
    reply = _oldest_queued(session, account_id)
    if reply is None or (reply.error_message == reason and reply.wait_code == code):
        return None
    reply.wait_code = code
    reply.error_message = reason
    reply.updated_at = now
    return _snapshot(session, reply)


def unclaim(session: Session, reply_id: str, code: str, reason: str, now: datetime) -> ReplyRow | None:
    """A claimed reply that found no holder to send it (nothing was tried): queued again,
    the attempt given back, the reason shown."""
    reply = session.get(Reply, reply_id)
    if reply is None or reply.status != ReplyStatus.SENDING.value:
        return None
    reply.status = ReplyStatus.QUEUED.value
    reply.attempts = max(0, reply.attempts - 1)
    reply.next_attempt_at = None
    reply.wait_code = code
    reply.error_message = reason
    reply.updated_at = now
    return _snapshot(session, reply)


_MAX_THREAD_DEPTH = 100  # replies to replies: a longer chain is taken as having no known root


def _target(session: Session, reply: Reply) -> ReplyTarget:
    """The reply's target with the context the engine stored: the work's title and the
    comment answered (text, author, thread), or the DM peer."""
    account = reply.account_id
    if reply.target_type == TargetType.DIRECT_MESSAGE.value:
        peer = session.execute(
            select(Conversation.peer_name, Conversation.peer_id).where(
                Conversation.account_id == account,
                Conversation.platform_conversation_id == reply.topic_platform_id,
            )
        ).first()
        return ReplyTarget(
            "direct_message", reply.topic_platform_id,
            peer_name=peer.peer_name if peer else None, peer_platform_id=peer.peer_id if peer else None,
        )
    title = session.scalar(
        select(Content.title).where(
            Content.account_id == account, Content.platform_content_id == reply.topic_platform_id
        )
    )
    if reply.target_platform_id is None:
        return ReplyTarget("comment", reply.topic_platform_id, topic_title=title)
    parent = _comment(session, account, reply.target_platform_id)
    if parent is None:
        return ReplyTarget("comment", reply.topic_platform_id, reply.target_platform_id, topic_title=title)
    return ReplyTarget(
        "comment", reply.topic_platform_id, reply.target_platform_id, topic_title=title,
        target_text=parent.text, target_author=parent.author_name, target_author_id=parent.author_id,
        thread_platform_id=_thread_root(
            session, account, reply.target_platform_id, parent.parent_platform_comment_id
        ),
    )


def _comment(session: Session, account_id: str, platform_id: str) -> Any:
    return session.execute(
        select(Comment.text, Comment.author_name, Comment.author_id, Comment.parent_platform_comment_id).where(
            Comment.account_id == account_id, Comment.platform_comment_id == platform_id
        )
    ).first()


def _thread_root(session: Session, account_id: str, platform_id: str, parent_id: str | None) -> str | None:
    """The first-level comment above `platform_id` (itself when it has no parent)."""
    for _ in range(_MAX_THREAD_DEPTH):
        if parent_id is None:
            return platform_id
        parent = _comment(session, account_id, parent_id)
        if parent is None:
            return None  # a parent we never stored: the thread is not known
        platform_id, parent_id = parent_id, parent.parent_platform_comment_id
    return None


def mark_sent(session: Session, reply_id: str, platform_reply_id: str, now: datetime) -> ReplyRow | None:
    """`sending` → `sent` with the platform's id; the placeholder takes that id
    (store/merge.py's `adopt_platform_copy`, the same rule the crawl applies).

    If the platform's copy was stored already (the page pushed it before `send_reply`
    returned, or a crawl saw an earlier attempt), that copy becomes our message and the reply
    is `confirmed` at once: the topic never shows the text twice. The errors of earlier
    attempts are history now and are cleared.
    """
    reply = session.get(Reply, reply_id)
    if reply is None:
        return None
    reply.platform_reply_id = platform_reply_id
    reply.status = ReplyStatus.SENT.value
    reply.sent_at = now
    reply.updated_at = now
    reply.next_attempt_at = None
    reply.error_code = None
    reply.error_message = None
    session.flush()
    if adopt_platform_copy(session, reply):
        confirm_replies(session, reply_kind(reply), reply.account_id, [reply], now)
    session.expire_all()  # the rows changed above by bulk statements
    row = _snapshot(session, reply)
    refresh_topics(session, [row.topic])
    refresh_accounts(session, [row.account_id])
    return row


def mark_unsent(
    session: Session,
    reply_id: str,
    status: ReplyStatus,
    code: str,
    message: str,
    next_attempt_at: datetime | None,
    now: datetime,
) -> ReplyRow | None:
    """An attempt ended without a platform id: queued again (with a due time), failed or blocked."""
    reply = session.get(Reply, reply_id)
    if reply is None:
        return None
    reply.status = status.value
    reply.error_code = code
    reply.error_message = message
    reply.next_attempt_at = next_attempt_at
    reply.updated_at = now
    return _snapshot(session, reply)


def requeue_interrupted(
    session: Session, now: datetime, alive: Callable[[Session, Collection[str]], set[str]]
) -> list[ReplyRow]:
    """After a crash: every reply left `sending` by an engine that is gone goes back to the
    queue, marked so that the dispatcher looks for it on the platform before sending it again
    (never twice). `alive` says which of the engines named on the rows still run (another
    process on a shared database is sending its replies now: they stay); a row that names
    none is from before engines were named, a crash's."""
    sending = list(session.scalars(select(Reply).where(Reply.status == ReplyStatus.SENDING.value)))
    running = alive(session, {r.sending_by for r in sending if r.sending_by is not None})
    rows = []
    for reply in sending:
        if reply.sending_by in running:
            continue
        reply.sending_by = None
        reply.status = ReplyStatus.QUEUED.value
        reply.error_code = "interrupted"
        reply.error_message = "HisCRM stopped while sending; checking the platform before resending"
        reply.next_attempt_at = None
        reply.updated_at = now
        rows.append(_snapshot(session, reply))
    return rows


# ---- Operator actions ----------------------------------------------------------------------
def change_status(
    session: Session,
    reply_id: str,
    to: ReplyStatus,
    allowed_from: frozenset[str],
    now: datetime,
    look_first: bool = True,
) -> ReplyRow:
    """Retry (→ queued, attempts reset), cancel, or the operator's answer to an uncertain
    reply (→ confirmed: it is on the platform; → queued with `look_first` False: send it
    without looking again), only from the states in `allowed_from`."""
    reply = session.get(Reply, reply_id)
    if reply is None:
        raise ReplyNotFound(f"no reply {reply_id!r}")
    if reply.status not in allowed_from:
        raise ReplyStateError(f"cannot make a {reply.status} reply {to.value}")
    reply.status = to.value
    reply.updated_at = now
    reply.next_attempt_at = None
    reply.wait_code = None
    if to is ReplyStatus.QUEUED:
        reply.attempts = 0
        reply.error_message = None
        if not look_first:
            reply.error_code = None
    elif to is ReplyStatus.CONFIRMED:
        reply.confirmed_at = now
        reply.error_code = None
        reply.error_message = None
    return _snapshot(session, reply)

