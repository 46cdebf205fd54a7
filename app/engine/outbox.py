"""The durable reply outbox (DESIGN.md §5): what the operator sends, sent exactly once.

    reply() ──► queued ──► sending ──► sent ──(its record stored: send answer or crawl)──► confirmed
                  ▲   │        │
                  │   │        ├─ TransientError / timeout ─► queued again after a backoff,
                  │   │        │                              `failed` after max_attempts
                  │   │        ├─ ReplyBlocked ─────────────► blocked
                  │   │        ├─ PermanentError, SessionExpired ─► failed
                  │   │        └─ ReplyUncertain (the look for an earlier attempt cannot tell)
                  │   │                                    ─► uncertain ─ confirm_sent() ─► confirmed
                  │   │                                                 └ send_again() ─► queued
                  │   └─ cancel() ──► cancelled (also from failed / blocked / uncertain)
                  └─ retry() (from failed / blocked)

Each arrow is one committed transaction (app/engine/outbox_store.py) followed by a
`MessageStatusChanged` event. A reply is marked `sending` *before* the browser is asked to
send it, so after a crash the database tells which replies might have reached the platform:
`start()` puts them back in the queue marked as attempted, and a reply attempted before is
looked for on the platform (`find_reply`) before it is sent again; when that look
cannot decide, the reply waits for the operator (`uncertain`) rather than risk a second copy.
Never twice, never lost.

One dispatcher task watches the queue; it starts one sender task per account with due
replies, so an account sends one reply at a time (in order) while accounts send in parallel.
`reply()` wakes the dispatcher, so a new reply leaves within milliseconds, not on a poll tick.

A reply is taken only where its account's holder serves it (ReplyRouter.waiting_reason):
while no worker holds the account (its worker away, not dealt yet) the reply stays queued
with the reason and no attempt counted, and leaves when a holder comes (`wake()`). On a
database shared by several processes (`poll_s`) the dispatcher also reads the queue every
`poll_s` seconds, so a reply queued through another process leaves from the one its
account's worker is connected to; taking a reply is atomic, so one process sends it.
A reply taken names the engine sending it, and only the `sending` replies of an engine that
is gone are requeued (store/engine_liveness.py): at `start()`, and every `sweep_s` on a
shared database, where another process may die while this one runs.
"""
from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .bus import EventBus
from .events import MessagesAdded, MessagesUpdated, MessageStatusChanged
from .im.added import committed, read_added
from .im.types import TopicRef
from .outbox_store import (
    account_platform,
    ReplyNotFound,
    ReplyRejected,
    ReplyRow,
    ReplyStateError,
    change_status,
    claim_next,
    due_accounts,
    enqueue,
    get_reply,
    list_replies,
    mark_sent,
    mark_unsent,
    platform_id_owner,
    requeue_interrupted,
    topic_queue,
    unclaim,
    wait_for_holder,
)
from .platform import (
    PermanentError,
    PlatformError,
    ReplyBlocked,
    ReplyTarget,
    ReplyUncertain,
    SentReply,
    SessionExpired,
)
from .holders import NoHolder
from .records import MAX_ID_LEN, MAX_TEXT_LEN, Batch
from .seams import CURRENT_SEND, ReplyRouter, SendAttempt
from .store.engine_liveness import SWEEP_S, EngineLiveness
from .store.models import ReplyStatus, utcnow

__all__ = ["Outbox", "Queued", "ReplyNotFound", "ReplyRejected", "ReplyRow", "ReplyStateError", "validate_text"]

log = logging.getLogger(__name__)

# Control characters other than tab and newlines: invisible, and PostgreSQL refuses NUL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FIND_MARGIN = timedelta(seconds=2)


def validate_text(text: Any) -> str:
    """The text as it will be sent (surrounding whitespace removed), or ReplyRejected."""
    if not isinstance(text, str):
        raise ReplyRejected(f"reply text must be a string, not {type(text).__name__}", "not_text")
    text = text.strip()
    if not text:
        raise ReplyRejected("the reply is empty", "empty")
    if len(text) > MAX_TEXT_LEN:
        raise ReplyRejected(f"the reply is too long ({len(text)} characters; at most {MAX_TEXT_LEN})", "too_long")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ReplyRejected("the reply contains a broken character (a lone surrogate)", "bad_character") from None
    if _CONTROL.search(text):
        raise ReplyRejected("the reply contains control characters", "bad_character")
    return text


@dataclass(frozen=True)
class Queued:
    reply_id: str
    created: bool  # False: the request_id was seen before; reply_id is that first reply's


class Outbox:
    """Queue, send, retry and cancel operator replies; see the module docstring."""

    def __init__(
        self,
        db: Any,
        bus: EventBus,
        sender: ReplyRouter,
        *,
        max_attempts: int = 5,
        backoff_base_s: float = 2.0,
        backoff_cap_s: float = 300.0,
        send_timeout_s: float = 120.0,
        stop_grace_s: float = 10.0,
        poll_s: float | None = None,
        sweep_s: float = SWEEP_S,
        liveness: EngineLiveness | None = None,
    ) -> None:
        self._db = db
        self._bus = bus
        self._sender = sender  # AccountHolders: the holder of each reply's account sends it
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.send_timeout_s = send_timeout_s
        self.stop_grace_s = stop_grace_s
        self.poll_s = poll_s  # a shared database: other processes queue replies too
        self.sweep_s = sweep_s
        self._liveness = liveness or EngineLiveness(db)
        self._next_sweep = 0.0  # the event loop's time of the next look for a dead engine's replies
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._senders: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    # ---- Lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Mark this engine alive, requeue the replies a stopped one left `sending`, then
        start dispatching."""
        if self._dispatcher is not None:
            return
        self._stopping = False
        await self._liveness.hold()
        await self._requeue_interrupted()
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="outbox-dispatcher")

    async def stop(self) -> None:
        """Stop dispatching; a send in progress gets `stop_grace_s` to finish (a send cut
        short stays `sending` and is checked on the platform at the next start)."""
        if self._dispatcher is None:
            return
        self._stopping = True
        self._dispatcher.cancel()
        senders = list(self._senders.values())
        if senders:
            _, pending = await asyncio.wait(senders, timeout=self.stop_grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*senders, return_exceptions=True)
        await asyncio.gather(self._dispatcher, return_exceptions=True)
        self._dispatcher = None
        await self._liveness.release()

    async def _requeue_interrupted(self) -> None:
        """The replies an engine that is gone left `sending` go back to the queue."""
        self._next_sweep = asyncio.get_running_loop().time() + self.sweep_s
        for row in await self._db.write(requeue_interrupted, utcnow(), self._liveness.alive):
            log.warning("reply %s was being sent when HisCRM stopped; will check the platform", row.id)
            self._publish_status(row)

    def wake(self) -> None:
        """Look at the queue now (a holder came: replies that waited for it may go)."""
        self._wake.set()

    # ---- Operator actions ----------------------------------------------------------------
    async def reply(
        self,
        ref: TopicRef,
        text: str,
        *,
        reply_to: str | None = None,
        operator: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Queue a reply in the topic (to the comment `reply_to`, or a new comment / DM).

        The text shows in the topic at once; the reply id is returned. A repeated
        `request_id` (a client retrying its request) returns the first reply's id.
        """
        queued = await self.submit(ref, text, reply_to=reply_to, operator=operator, request_id=request_id)
        return queued.reply_id

    async def submit(
        self,
        ref: TopicRef,
        text: str,
        *,
        reply_to: str | None = None,
        operator: str | None = None,
        request_id: str | None = None,
    ) -> Queued:
        """`reply`, saying also whether this call queued the reply: False for a repeated
        `request_id`, whose first reply is not queued again (REST answers 409 Conflict)."""
        text = validate_text(text)
        refusal = await self.refusal(ref)
        if refusal is not None:
            raise ReplyRejected(refusal, "no_direct_messages")
        if request_id is not None and not (0 < len(request_id) <= MAX_ID_LEN):
            raise ReplyRejected(f"request_id must have 1 to {MAX_ID_LEN} characters", "bad_request_id")
        row, added = await self._db.write(_enqueue, ref, text, reply_to, operator, request_id, utcnow())
        created = added is not None
        if created:
            self._bus.publish(committed(added))
            self._publish_status(row)
            self._wake.set()
        return Queued(row.id, created)

    async def refusal(self, ref: TopicRef) -> str | None:
        """Why a reply in this topic would be refused before it is queued (the platform cannot
        send direct messages, ...), or None: what the UI asks before offering a reply box."""
        platform = await self._db.read(account_platform, ref.account_id)
        if platform is None:
            return None  # `reply` names the unknown account itself
        if ref.kind == "conversation" and DIRECT_MESSAGES not in self._sender.capabilities(platform):
            return f"the {platform} platform cannot send direct messages"
        return None

    async def retry(self, reply_id: str) -> None:
        """Send a failed or blocked reply again (attempts start over)."""
        allowed = frozenset({ReplyStatus.FAILED.value, ReplyStatus.BLOCKED.value})
        row = await self._db.write(change_status, reply_id, ReplyStatus.QUEUED, allowed, utcnow())
        self._publish_status(row)
        self._wake.set()

    async def cancel(self, reply_id: str) -> None:
        """Give up a reply that is not on its way (queued, failed or blocked); its message
        stays in the topic, marked cancelled."""
        allowed = frozenset(
            s.value for s in (ReplyStatus.QUEUED, ReplyStatus.FAILED, ReplyStatus.BLOCKED, ReplyStatus.UNCERTAIN)
        )
        row = await self._db.write(change_status, reply_id, ReplyStatus.CANCELLED, allowed, utcnow())
        self._publish_status(row)

    async def confirm_sent(self, reply_id: str) -> None:
        """The operator checked the platform: this uncertain reply is there."""
        allowed = frozenset({ReplyStatus.UNCERTAIN.value})
        row = await self._db.write(change_status, reply_id, ReplyStatus.CONFIRMED, allowed, utcnow())
        self._publish_status(row)

    async def send_again(self, reply_id: str) -> None:
        """The operator checked the platform: this uncertain reply is not there; send it
        without looking for it again."""
        allowed = frozenset({ReplyStatus.UNCERTAIN.value})
        row = await self._db.write(change_status, reply_id, ReplyStatus.QUEUED, allowed, utcnow(), False)
        self._publish_status(row)
        self._wake.set()

    async def get(self, reply_id: str) -> ReplyRow | None:
        return await self._db.read(get_reply, reply_id)

    async def in_flight(self, ref: TopicRef) -> list[ReplyRow]:
        """The topic's replies that are queued or being sent, oldest first (an IM client's
        sending queue)."""
        return await self._db.read(topic_queue, ref, IN_FLIGHT)

    async def list(
        self, account_id: str | None = None, status: str | Collection[str] | None = None, *, limit: int = 200
    ) -> list[ReplyRow]:
        """Newest first; `status` one status or any of several."""
        statuses = None if status is None else (status,) if isinstance(status, str) else tuple(status)
        return await self._db.read(list_replies, account_id, statuses, limit)

    # ---- Dispatching ---------------------------------------------------------------------
    async def _dispatch_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                if self._liveness.shared and asyncio.get_running_loop().time() >= self._next_sweep:
                    await self._liveness.hold()
                    await self._requeue_interrupted()
                now = utcnow()
                accounts, next_at = await self._db.read(due_accounts, now)
            except Exception:
                log.exception("outbox: reading the queue failed; trying again shortly")
                accounts, next_at = [], utcnow() + timedelta(seconds=self.backoff_base_s)
            for account_id, worker_id in accounts:
                if account_id in self._senders:
                    continue
                reason = self._sender.waiting_reason(worker_id)
                if reason is not None:
                    await self._wait_for_holder(account_id, reason.code, str(reason))
                    continue
                task = asyncio.create_task(self._send_all(account_id), name=f"outbox-{account_id}")
                self._senders[account_id] = task
                task.add_done_callback(lambda t, a=account_id: self._sender_done(a, t))
            timeout = None if next_at is None else max(0.0, (next_at - utcnow()).total_seconds())
            if self.poll_s is not None:
                timeout = self.poll_s if timeout is None else min(timeout, self.poll_s)
            if self._liveness.shared:
                to_sweep = max(0.0, self._next_sweep - asyncio.get_running_loop().time())
                timeout = to_sweep if timeout is None else min(timeout, to_sweep)
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _wait_for_holder(self, account_id: str, code: str, reason: str) -> None:
        """Leave the account's replies queued, the oldest saying why (once)."""
        try:
            row = await self._db.write(wait_for_holder, account_id, code, reason, utcnow())
        except Exception:
            log.exception("outbox: could not note why the replies of %s wait", account_id)
            return
        if row is not None:
            self._publish_status(row)

    def _sender_done(self, account_id: str, task: asyncio.Task[None]) -> None:
        if self._senders.get(account_id) is task:
            del self._senders[account_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("outbox sender for %s failed", account_id, exc_info=task.exception())
            # Most likely the database; look again a little later rather than spin.
            asyncio.get_running_loop().call_later(self.backoff_base_s, self._wake.set)
            return
        # A reply queued while this task was finishing was left to it; look again.
        self._wake.set()

    async def _send_all(self, account_id: str) -> None:
        """Send the account's due replies one after another, oldest first."""
        while not self._stopping:
            claimed = await self._db.write(claim_next, account_id, utcnow(), self._liveness.instance_id)
            if claimed is None:
                return
            row, target = claimed
            self._publish_status(row)
            if not await self._attempt(row, target):
                return  # no holder any more: the dispatcher sees the account wait

    async def _attempt(self, row: ReplyRow, target: ReplyTarget) -> bool:
        """One attempt at a `sending` row; records its outcome. False: the account has no
        holder (the reply was given back to the queue untried)."""
        attempt = CURRENT_SEND.set(SendAttempt(row.id, row.attempts))
        try:
            sent = await self._find_earlier_copy(row, target) if row.attempted_before else None
            if sent is None:
                async with asyncio.timeout(self.send_timeout_s):
                    sent = await self._sender.send_reply(row.account_id, target, row.text)
            platform_id, created = sent.platform_id, sent.created
            if not isinstance(platform_id, str) or not platform_id:
                # It may well be on the platform: the next attempt looks before it sends.
                raise _NoPlatformId(f"the platform returned no id for the reply ({platform_id!r})")
        except asyncio.CancelledError:
            raise
        except NoHolder as exc:  # its worker went away just now: nothing was tried
            updated = await self._db.write(unclaim, row.id, exc.code, _reason(exc), utcnow())
            if updated is not None:
                self._publish_status(updated)
            return False
        except ReplyUncertain as exc:
            await self._record_unsent(row, ReplyStatus.UNCERTAIN, exc.code, _uncertain_reason(_reason(exc)))
        except ReplyBlocked as exc:
            await self._record_unsent(row, ReplyStatus.BLOCKED, exc.code, _reason(exc))
        except (PermanentError, SessionExpired) as exc:
            await self._record_unsent(row, ReplyStatus.FAILED, exc.code, _reason(exc))
        except Exception as exc:  # TransientError, timeouts, a crashed page, a pool bug
            await self._record_transient(row, exc)
        else:
            if await self._record_sent(row, platform_id) and created is not None:
                await self._store_created(row, created)
        finally:
            CURRENT_SEND.reset(attempt)
        return True

    async def _find_earlier_copy(self, row: ReplyRow, target: ReplyTarget) -> SentReply | None:
        """An earlier attempt's copy on the platform, unless another reply owns it."""
        # The reply cannot be on the platform from before it was queued; the margin absorbs
        # platforms that round their times down to whole seconds.
        since = row.created_at - _FIND_MARGIN
        async with asyncio.timeout(self.send_timeout_s):
            found = await self._sender.find_reply(row.account_id, target, row.text, since)
        if found is None:
            return None
        owner = await self._db.read(platform_id_owner, row.account_id, found.platform_id)
        if owner is not None and owner != row.id:
            return None  # the same text sent by another reply of ours
        log.info("reply %s was already on the platform as %s; not sending it again", row.id, found.platform_id)
        return found

    async def _record_sent(self, row: ReplyRow, platform_id: str) -> bool:
        """Record the platform id; whether the reply now waits for its record (`sent`)."""
        sent = await self._db.write(mark_sent, row.id, platform_id, utcnow())
        if sent is None:  # deleted with its account meanwhile
            return False
        self._bus.publish(MessagesUpdated(sent.account_id, (sent.topic,), (sent.message_id,)))
        self._publish_status(sent)
        return sent.status == ReplyStatus.SENT.value

    async def _store_created(self, row: ReplyRow, created: Batch) -> None:
        """Store the record the send's answer (or the look that found it) carried: it confirms
        the reply now, instead of at the account's next poll, which may never see it (a
        thread longer than a crawl reads). A failure here loses nothing: the crawl may."""
        try:
            await self._sender.store_created(row.account_id, created)
        except Exception:
            log.warning("reply %s: storing the platform's answer failed; the next poll confirms it",
                        row.id, exc_info=True)

    async def _record_transient(self, row: ReplyRow, exc: BaseException) -> None:
        if isinstance(exc, PlatformError):
            code = exc.code
        else:
            code = "timeout" if isinstance(exc, asyncio.TimeoutError) else "transient"
        reason = _reason(exc)
        if not isinstance(exc, PlatformError):
            log.warning("reply %s: attempt %d failed: %s", row.id, row.attempts, reason, exc_info=exc)
        if row.attempts >= self.max_attempts:
            message = f"gave up after {row.attempts} attempts: {reason}"
            await self._record_unsent(row, ReplyStatus.FAILED, code, message)
            return
        delay = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (row.attempts - 1))
        message = f"attempt {row.attempts}/{self.max_attempts} failed: {reason}; retrying in {delay:g} s"
        await self._record_unsent(row, ReplyStatus.QUEUED, code, message, utcnow() + timedelta(seconds=delay))
        self._wake.set()  # so the dispatcher sleeps until this reply is due, not longer

    async def _record_unsent(
        self, row: ReplyRow, status: ReplyStatus, code: str, message: str, next_at: datetime | None = None
    ) -> None:
        updated = await self._db.write(mark_unsent, row.id, status, code, message, next_at, utcnow())
        if updated is not None:
            self._publish_status(updated)

    def _publish_status(self, row: ReplyRow) -> None:
        sending = row.status == ReplyStatus.SENDING.value
        error = None if sending else row.error_message
        self._bus.publish(
            MessageStatusChanged(
                reply_id=row.id,
                account_id=row.account_id,
                topic=row.topic,
                message_id=row.message_id,
                status=row.status,
                error=error,
                attempts=row.attempts,
                error_code=None if sending else row.error_code,
                wait_code=None if sending else row.wait_code,
            )
        )


class _NoPlatformId(PlatformError):
    code = "no_platform_id"


IN_FLIGHT = (ReplyStatus.QUEUED.value, ReplyStatus.SENDING.value)
DIRECT_MESSAGES = "direct_messages"  # the capability a DM reply needs


def _uncertain_reason(reason: str) -> str:
    return f"{reason}; it may be on the platform already: check there, then confirm it or send it again"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "the platform did not answer in time"
    return str(exc) or type(exc).__name__


def _enqueue(session: Any, ref: TopicRef, *args: Any) -> tuple[ReplyRow, MessagesAdded | None]:
    """`enqueue`, and the event of the placeholder message it stored (None for a repeated
    request_id), read in the same transaction."""
    row, created = enqueue(session, ref, *args)
    return row, read_added(session, row.account_id, [(row.topic, row.message_id)]) if created else None
