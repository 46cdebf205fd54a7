"""Typed engine events, published on the bus after the change they describe is committed."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .im.types import Channel, Topic, TopicRef, UnreadTotals

if TYPE_CHECKING:
    from .im.added import NewMessages
from .settings import Settings


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class MessagesAdded(Event):
    """New comments/DMs were stored. The event carries what the views show of them as of the
    commit, read once in the transaction that stored them (im/added.py), so that its
    consumers (the message, topic and channel lists, the tray, the search index) need not
    query the database again: the new rows in their topics' order, the topics' rows and the
    account's channel row with their new counters, and the unread totals of all accounts.
    `inbound_new` counts the audience's (notify-worthy) messages."""

    account_id: str
    messages: NewMessages  # the new rows; `Message`s made when asked (all, or one topic's)
    topic_rows: tuple[Topic, ...]
    channel: Channel
    unread: UnreadTotals
    inbound_new: int = 0
    # time.monotonic() just after the commit (im.added.committed): a view re-queried since
    # then shows these rows already, or newer ones.
    committed_at: float = 0.0

    @property
    def topics(self) -> tuple[TopicRef, ...]:
        return tuple(sorted(self.messages.topics, key=lambda r: (r.kind, r.platform_id)))

    @property
    def message_ids(self) -> tuple[str, ...]:
        return self.messages.ids


@dataclass(frozen=True)
class MessagesUpdated(Event):
    """Stored messages changed (text edit, recall, read state, placeholder confirmed)."""

    account_id: str
    topics: tuple[TopicRef, ...]
    message_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnreadChanged(Event):
    """Read marks changed; views refresh the affected counters."""

    account_id: str | None  # None: several accounts
    topics: tuple[TopicRef, ...] = ()


@dataclass(frozen=True)
class MessageStatusChanged(Event):
    """A reply in the outbox moved to a new status."""

    reply_id: str
    account_id: str
    topic: TopicRef
    message_id: str  # the placeholder or, once known, the platform's id
    status: str
    error: str | None = None
    attempts: int = 0
    error_code: str | None = None  # PlatformError.code of `error`
    wait_code: str | None = None  # why a queued reply waits unattempted (`error` has the words)


@dataclass(frozen=True)
class AccountsChanged(Event):
    """An account was added, deleted or edited (name, proxy, monitoring switch)."""

    account_id: str | None = None


@dataclass(frozen=True)
class AccountStatusChanged(Event):
    account_id: str
    login_status: str
    monitor_state: str | None = None  # active | hibernating | backoff | stopped | crashed
    error: str | None = None


@dataclass(frozen=True)
class SessionSaved(Event):
    """An account's saved browser session changed (a login, or its monitor saved the page's
    cookies): a remote worker sends it to its master (app/worker)."""

    account_id: str


@dataclass(frozen=True)
class LoginProgress(Event):
    """A login session moved (DESIGN.md §4): started, qr_ready, qr_refreshed, scanned,
    verification_required, success, failed, timeout, expired, cancelled."""

    session_id: str
    account_id: str
    state: str
    qr_png: bytes | None = None
    qr_url: str | None = None
    expires_at: datetime | None = None
    input_kind: str | None = None  # with verification_required: "sms_code" | "phone_number"
    message: str | None = None
    refresh_count: int = 0
    error_code: str | None = None  # when failed: why, as a code ("identity_mismatch", …)


@dataclass(frozen=True)
class Notification(Event):
    """Something an operator should see even when looking elsewhere."""

    title: str
    body: str
    account_id: str | None = None
    topic: TopicRef | None = None
    level: str = "info"  # info | warning | error
    action: str | None = None  # what the operator can do from it: FINISH_VERIFICATION


#: Notification.action: the platform holds the account for a check (a slider, a face check)
#: that the operator finishes in a visible browser, by logging the account in there.
FINISH_VERIFICATION = "finish_verification"


@dataclass(frozen=True)
class ServerStatusChanged(Event):
    """The embedded server started, stopped, failed to start, or its clients changed."""

    running: bool
    url: str | None = None
    error: str | None = None  # why it is not running when it should (the port is taken, …)
    im_clients: int = 0
    workers: int = 0


@dataclass(frozen=True)
class ServerTokenRenewed(Event):
    """The operator made a new server token: the running server restarts with it, so
    clients holding the old one are cut off now, not at their next connect."""


@dataclass(frozen=True)
class PoolStatusChanged(Event):
    """The worker pool's browsers or account contexts changed (for the Workers view)."""

    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class WorkersChanged(PoolStatusChanged):
    """A remote worker registered, reported in, went offline or was dealt accounts
    (app/engine/workers.py); a PoolStatusChanged, so the Workers view refreshes on it."""


@dataclass(frozen=True)
class SettingsChanged(Event):
    """The settings were saved and the running engine's Settings object now holds them.
    `changed` names the top-level fields that changed (a platform's block: "platforms")."""

    changed: frozenset[str]
    settings: Settings  # the live object
