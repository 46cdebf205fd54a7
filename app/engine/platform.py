"""The one interface every platform implements, and the registry that finds them.

A platform package (app/platforms/<name>/) exports a `Platform` subclass (or a factory
returning one); the registry makes a fresh instance per engine, so two engines in one process
(tests, tools) never share a platform's state. The engine's worker pool owns the browser and hands each call a Playwright Page
of the account's own BrowserContext; platform code only drives pages, it never touches the
database: it reports what it saw through a `BatchSink` and login progress through `LoginIO`.

A monitored account's page goes through these calls (monitor.py drives them):

1. `watch(page, account, io)` on the fresh page, BEFORE its first navigation: attach
   response listeners, websocket listeners, routes and init scripts here, so the first page
   load's JSON and websocket frames are seen (the pool then opens `home_url()`). It must not
   navigate itself.
2. `check_session(page)` at the start of every cycle: a `SessionStatus`.
3. `poll(page, account, io)`: one crawl cycle. Stream what it finds: hand every page's records
   to `io.sink` as soon as the page is read (each call is committed before it returns) and
   save the crawl's position in `io.state` after it, so a cycle cut short (a timeout, a crash,
   a restart) loses at most the page in progress and the next cycle continues from there.
   The pool's time limit is per step, not per cycle: it restarts whenever a batch is stored
   or state is saved. A platform may bound the work of one cycle (pages per list, pages per
   cycle) but never what is eventually stored: the next cycle continues where the last
   stopped.
4. Between cycles the page stays open (or is closed: hibernation); a push listener that sees
   the session end (an expiry frame, a 401) calls `io.session_changed`, and the pool acts on
   it at once. One that learns of something only a crawl can read (a notice naming a work
   whose new comment it does not carry) calls `io.poll_soon`: the next cycle comes early, as
   soon as the platform's pace allows (`PlatformSettings.early_poll_after_s`).

Pages are not for keeping: hibernation closes them, a crash replaces them, and an awake
page is recycled (closed with its session saved and reopened) every so often so memory stays
flat; each new page gets `watch` again. Anything the next cycle needs goes in `io.state`, not
in objects keyed by the page. `reply` and `find_reply` may get a page `watch` was never
called on (an account whose monitoring is off).

Built-in platforms are listed, like third-party ones, under the entry-point group
"hiscrm.platforms"; a platform that fails to load is logged and skipped, never fatal. The
built-ins are also known to the registry itself (BUILTIN_PLATFORMS), so they are found where
no distribution metadata is installed, e.g. in a frozen (PyInstaller) build.
"""
from __future__ import annotations

import abc
import logging
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import Enum
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, Awaitable, Callable, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .records import Batch
from .reply_text import text_key

if TYPE_CHECKING:  # Playwright is only needed at run time by the pool
    from playwright.async_api import Page

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "hiscrm.platforms"
BUILTIN_PLATFORMS: dict[str, str] = {
    "douyin": "app.platforms.douyin:DouyinPlatform",
    "sandbox": "app.platforms.sandbox:SandboxPlatform",
}
"""The platforms shipped in this package, as entry-point values: the same list as the
"hiscrm.platforms" entry points in pyproject.toml (keep the two in step)."""


# ---- Errors a platform raises -------------------------------------------------------------
class PlatformError(Exception):
    """Base class; `code` is a short machine-readable reason shown beside the message."""

    code = "platform_error"


class SessionExpired(PlatformError):
    """The page is logged out (redirect to login, API says so): the account needs a login."""

    code = "session_expired"


class NeedsVerification(SessionExpired):
    """The platform wants the account verified (a slider, a face check, an SMS) before it
    serves it again: the operator has to finish that in a visible browser."""

    code = "needs_verification"


class AccountBlocked(SessionExpired):
    """The platform has banned or frozen the account: nothing but the operator can help."""

    code = "blocked"


class TransientError(PlatformError):
    """Worth retrying later (network, slow page, renderer crash)."""

    code = "transient"


class RateLimited(TransientError):
    """The platform says the account goes too fast ("操作太频繁"): try again, but not before
    `retry_after_s`. Pressing on is how accounts get restricted."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: float = 600.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ReplyBlocked(PlatformError):
    """The platform refused the reply (rate limit, risk control): retrying now won't help."""

    code = "blocked"


class PermanentError(PlatformError):
    """The request can never succeed (target deleted, text rejected)."""

    code = "permanent"


class ReplyUncertain(PlatformError):
    """`find_reply` cannot tell whether the reply is on the platform (it would be where the page
    cannot look): sending again might post it twice, so the operator checks and decides."""

    code = "uncertain"


class LoginFailed(PlatformError):
    code = "login_failed"


# ---- What the engine gives a platform -----------------------------------------------------
@dataclass(frozen=True)
class AccountInfo:
    id: str
    platform: str
    display_name: str
    platform_user_id: str | None = None


@dataclass(frozen=True)
class ReplyTarget:
    """Where a reply goes, with what the engine stored about that place.

    The ids say where to go; the context (built by the outbox from the database) says what the
    operator saw there, so an adapter can check that the page shows the same work, comment or
    person before it types: a real site's page ids are not its API ids, and nothing may be
    sent to the wrong target. A context field that is None was not known to the engine.
    """

    kind: Literal["comment", "direct_message"]
    topic_platform_id: str  # the work (comments) or the conversation (DMs)
    target_platform_id: str | None = None  # the comment replied to; None = a new top comment
    topic_title: str | None = None  # the work's title
    target_text: str | None = None  # the text of the comment replied to
    target_author: str | None = None  # its author's name
    target_author_id: str | None = None  # its author's platform id
    thread_platform_id: str | None = None  # the first-level comment of its thread (itself at the top)
    peer_name: str | None = None  # the DM peer's name
    peer_platform_id: str | None = None  # the DM peer's platform id


@dataclass(frozen=True)
class SentReply:
    """A reply the platform has: its id and, when the send's answer (or the look that found
    it) carried it, its record (stored at once, so the reply is confirmed without waiting for
    the next crawl)."""

    platform_id: str
    created: Batch | None = None


@dataclass(frozen=True)
class LoginOutcome:
    platform_user_id: str
    username: str | None = None
    avatar_url: str | None = None
    user_info: dict[str, Any] = field(default_factory=dict)


STABLE_ID = "stable_id"
"""The key of `LoginOutcome.user_info` holding the platform's permanent id of the identity,
for a platform whose `platform_user_id` is one its user can change (Douyin's 抖音号 beside
its numeric uid). Once an account knows it, logins are compared by it: a renamed id with
the same permanent one is the same identity (its shown id is updated), another permanent
id is another identity. Kept with the account's profile, so it travels wherever that does."""


BatchSink = Callable[[Batch], Awaitable[None]]
"""Persist a batch; returns only after it is committed (so it may be acknowledged)."""


class SessionStatus(str, Enum):
    """What `check_session` sees (the account's login status of the same name follows it)."""

    LOGGED_IN = "logged_in"
    EXPIRED = "expired"  # logged out: a new login (QR code) is needed
    NEEDS_VERIFICATION = "needs_verification"  # logged in, but the site wants a check first
    BLOCKED = "blocked"  # banned or frozen by the platform


SESSION_ERRORS: dict[SessionStatus, type[SessionExpired]] = {
    SessionStatus.EXPIRED: SessionExpired,
    SessionStatus.NEEDS_VERIFICATION: NeedsVerification,
    SessionStatus.BLOCKED: AccountBlocked,
}
"""The error a platform raises mid-cycle for each status that is not LOGGED_IN."""


def session_status_of(error: SessionExpired) -> SessionStatus:
    """The status a raised session error stands for."""
    for status in (SessionStatus.NEEDS_VERIFICATION, SessionStatus.BLOCKED):
        if isinstance(error, SESSION_ERRORS[status]):
            return status
    return SessionStatus.EXPIRED


class PlatformState(abc.ABC):
    """One account's own small, persisted key → JSON value store, for the platform's crawl
    position and what it has already seen (paging cursors, counts per list, last message ids).

    It lives in the engine's database, so it survives hibernation (the page closes, the state
    stays), restarts and crashes; it is per account, never shared, and deleted with the
    account. Values are anything JSON can hold; keep each key small (one list, one work), as
    a value is rewritten whole. `set` is committed when it returns: save a position only
    after the records read up to it went to the sink, so a crash in between redoes the page
    rather than skipping it."""

    @abc.abstractmethod
    async def get(self, key: str, default: Any = None) -> Any:
        """The value saved under `key`, else `default`."""

    @abc.abstractmethod
    async def set(self, key: str, value: Any) -> None:
        """Save `value` under `key` (None deletes it)."""


@dataclass(frozen=True)
class MonitorIO:
    """What a monitored page's platform code reports through (see the module docstring):
    `sink` stores records, `state` keeps the crawl's position, `session_changed(status,
    message)` tells the pool at once that a push saw the session end, `poll_soon()` that
    something is due which the next crawl reads (the pool brings that crawl forward, within
    the platform's pace and never during a backoff)."""

    sink: BatchSink
    state: PlatformState
    session_changed: Callable[[SessionStatus, str], None] = lambda status, message: None
    poll_soon: Callable[[], None] = lambda: None


class LoginIO(abc.ABC):
    """The platform's side of a login session: report progress, ask the operator."""

    @abc.abstractmethod
    async def report(
        self,
        state: str,
        *,
        qr_png: bytes | None = None,
        qr_url: str | None = None,
        expires_at: datetime | None = None,
        message: str | None = None,
    ) -> None:
        """States: qr_ready, qr_refreshed, scanned (see app.engine.login for the machine)."""

    @abc.abstractmethod
    async def ask(self, kind: Literal["sms_code", "phone_number"], prompt: str) -> str:
        """Ask the operator (dialog or remote client) and wait for the answer."""


class PlatformSettings(BaseModel):
    """A platform's own block of the settings file (`platforms.<name>`). A platform with
    settings declares a subclass as `Platform.settings_model`; the settings service validates
    the block with it, so a wrong value is reported like any other setting."""

    model_config = ConfigDict(extra="allow")

    # The pace of this platform's scheduled polls, for every account on it (app/engine/pool/
    # pacing.py): a floor under the global poll interval, and hours without scheduled polls
    # (the operator opening an account still polls it). Accounts polled day and night at a
    # steady beat are what risk control looks for.
    poll_interval_min_s: float | None = Field(None, ge=1, le=86400)  # None: the global settings
    poll_interval_max_s: float | None = Field(None, ge=1, le=86400)
    # An early poll a push asked for (MonitorIO.poll_soon) starts no sooner than this after the
    # last poll ended: a stream of pushes must not become a crawl every few seconds.
    early_poll_after_s: float = Field(15.0, ge=1, le=86400)
    quiet_hours: str = ""  # "HH:MM-HH:MM" local time, may span midnight ("23:30-07:00"); "" = none

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        if value.strip():
            parse_quiet_hours(value)  # a clear error for a bad value
        return value.strip()

    @model_validator(mode="after")
    def _interval_range(self) -> "PlatformSettings":
        low, high = self.poll_interval_min_s, self.poll_interval_max_s
        if low is not None and high is not None and high < low:
            raise ValueError("poll_interval_max_s must not be less than poll_interval_min_s")
        return self


def parse_quiet_hours(value: str) -> tuple[time, time]:
    """"23:30-07:00" -> (23:30, 07:00); ValueError naming the expected form otherwise."""
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise ValueError(f"quiet_hours must look like 23:30-07:00, not {value!r}") from None
    if start == end:
        raise ValueError("quiet_hours must not start and end at the same time")
    return start, end


class Platform(abc.ABC):
    """One social platform's adapter. Stateless across accounts: every call gets its page."""

    name: str  # registry key, e.g. "sandbox", "douyin"
    label: str  # shown to operators, e.g. "抖音"
    capabilities: frozenset[str] = frozenset({"comments", "direct_messages", "qr_login"})
    """What the platform can do; the outbox refuses a reply it cannot send (DIRECT_MESSAGES)."""
    settings_model: ClassVar[type[PlatformSettings]] = PlatformSettings

    async def startup(self, runtime: "PlatformRuntime") -> None:
        """Called once when the engine starts (e.g. the sandbox starts its local site)."""

    async def shutdown(self) -> None:
        """Called once when the engine stops."""

    @abc.abstractmethod
    def home_url(self) -> str:
        """The page a freshly woken context opens."""

    @abc.abstractmethod
    async def login(self, page: "Page", io: LoginIO) -> LoginOutcome:
        """Drive the login page to success (QR code, verification); raise LoginFailed."""

    @abc.abstractmethod
    async def check_session(self, page: "Page") -> SessionStatus:
        """Whether the page's session is logged in, logged out, held for a verification or
        blocked (may navigate)."""

    @abc.abstractmethod
    async def watch(self, page: "Page", account: AccountInfo, io: MonitorIO) -> None:
        """Called on the account's new page before its first navigation: attach the
        push/interception listeners (page.on("response"/"websocket"), page.route,
        add_init_script) that feed `io` while the page lives. Must not navigate: the pool
        opens `home_url()` next, and the listeners see that first load."""

    @abc.abstractmethod
    async def poll(self, page: "Page", account: AccountInfo, io: MonitorIO) -> None:
        """One crawl cycle (the fallback when pushes are absent): navigate, let the page fetch,
        hand each page's records to `io.sink` as it is read and keep the position in
        `io.state` (see the module docstring). Raise SessionExpired (or NeedsVerification,
        AccountBlocked) when the site shows the session is not usable."""

    @abc.abstractmethod
    async def reply(self, page: "Page", account: AccountInfo, target: ReplyTarget, text: str) -> SentReply:
        """Send `text` through the page's own reply box, after checking that the page shows
        the target described by `target`'s context (PermanentError when it does not)."""

    @abc.abstractmethod
    async def find_reply(
        self, page: "Page", account: AccountInfo, target: ReplyTarget, text: str, since: datetime
    ) -> SentReply | None:
        """After a crash or a lost answer: our reply with this text sent since `since` (its
        platform id, and its record when the look saw it), so the outbox never sends twice.

        Look where a new reply lands (the newest end of the thread or conversation), prefer an
        unambiguous marker (the created id of a send whose answer came late) and compare texts
        with `same_text`. Return None only when everything posted there since `since` was
        seen; raise TransientError when the look failed (an answer that could not be read:
        the outbox looks again later) and ReplyUncertain when the page cannot show all of it.
        """

    def normalize_text(self, text: str) -> str:
        """The platform's own changes to a text it stores (its emoji codes, its line breaks),
        applied before the engine's rule (app.engine.reply_text); the default changes nothing."""
        return text

    def same_text(self, sent: str, stored: str) -> bool:
        """Whether `stored` (the platform's copy) is the text `sent`."""
        return text_key(self.normalize_text(sent)) == text_key(self.normalize_text(stored))

    async def self_check(self, page: "Page") -> "SelfCheck":
        """Visit every page the adapter relies on (logged in) and say what no longer matches,
        for a platform with the SELF_CHECK capability (a real site that changes its pages)."""
        raise PermanentError(f"the {self.name} platform has no self-check")


SELF_CHECK = "self_check"  # the capability of a platform whose pages can be checked (Platform.self_check)


@dataclass(frozen=True)
class SelfCheck:
    """What a self-check found: whether everything matched, a few lines for the operator, and
    the full report (a file they can send to whoever maintains the adapter)."""

    ok: bool
    lines: tuple[str, ...]
    report_file: Any = None  # a Path, when it was saved


@dataclass
class PlatformRuntime:
    """What the engine offers platforms at startup: where to keep files, the engine's
    settings, and the platform's own block of them (validated with its `settings_model`)."""

    data_dir: Any
    settings: Any
    config: PlatformSettings = field(default_factory=PlatformSettings)


class PlatformRegistry:
    """The platforms of one engine, by name."""

    def __init__(self) -> None:
        self._platforms: dict[str, Platform] = {}

    @classmethod
    def from_entry_points(cls) -> "PlatformRegistry":
        """A registry with a new instance of every installed platform."""
        registry = cls()
        registry.load_entry_points()
        return registry

    def register(self, platform: Platform) -> None:
        self._platforms[platform.name] = platform

    def get(self, name: str) -> Platform:
        try:
            return self._platforms[name]
        except KeyError:
            raise KeyError(f"unknown platform {name!r}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return sorted(self._platforms)

    def all(self) -> list[Platform]:
        return [self._platforms[n] for n in self.names()]

    def load_entry_points(self) -> None:
        """Register a new instance of every platform listed under the entry-point group and
        of every built-in one; skip (and log) broken ones.

        Why built-ins are loaded from BUILTIN_PLATFORMS, whatever the entry points say: entry
        points are read from the metadata of installed distributions (the `*.dist-info` /
        `*.egg-info` folders on sys.path), not from the code. A frozen build (PyInstaller)
        contains only what its spec collected, and loses the entry points when that metadata
        is not copied in or is stale; a source checkout run without `pip install -e .` has no
        metadata at all, and an editable install keeps the entry points of the day it was
        installed. The built-in platforms are part of this package's own code, so the code
        says where they are. Third-party platforms are found only through entry points
        (pip-installed plugins next to a frozen build are not visible to it anyway).
        """
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in BUILTIN_PLATFORMS:
                if ep.value != BUILTIN_PLATFORMS[ep.name]:
                    log.debug("entry point %s = %s is stale; the built-in %s is used", ep.name, ep.value,
                              BUILTIN_PLATFORMS[ep.name])
                continue
            self._load(ep)
        for name, value in BUILTIN_PLATFORMS.items():
            self._load(EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP))

    def _load(self, ep: EntryPoint) -> None:
        try:
            factory = ep.load()
            if isinstance(factory, Platform):
                raise TypeError(f"entry point {ep.name!r} names a platform instance; name its class "
                                "(or a factory), so that each engine gets its own")
            platform = factory()
            if not isinstance(platform, Platform):
                raise TypeError(f"entry point {ep.name!r} made {type(platform).__name__}, not a Platform")
            if getattr(platform, "name", None) != ep.name:
                raise ValueError(f"entry point {ep.name!r} exports platform {platform.name!r}")
            self.register(platform)
        except Exception:
            log.exception("platform plugin %r failed to load; skipped", ep.name)
