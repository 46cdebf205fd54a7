"""The one interface every platform implements, and the registry that finds them.

A platform package (app/platforms/<name>/) exports PLATFORM, an object implementing
`Platform`. The engine's worker pool owns the browser and hands each call a Playwright Page
of the account's own BrowserContext; platform code only drives pages, it never touches the
database: it reports what it saw through a `BatchSink` and login progress through `LoginIO`.

Built-in platforms are listed, like third-party ones, under the entry-point group
"hiscrm.platforms"; a platform that fails to load is logged and skipped, never fatal. The
built-ins are also known to the registry itself (BUILTIN_PLATFORMS), so they are found where
no distribution metadata is installed, e.g. in a frozen (PyInstaller) build.
"""
from __future__ import annotations

import abc
import logging
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Literal

from .records import Batch
from .reply_text import text_key

if TYPE_CHECKING:  # Playwright is only needed at run time by the pool
    from playwright.async_api import Page

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "hiscrm.platforms"
BUILTIN_PLATFORMS: dict[str, str] = {
    "sandbox": "app.platforms.sandbox:PLATFORM",
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


class TransientError(PlatformError):
    """Worth retrying later (network, slow page, renderer crash)."""

    code = "transient"


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


BatchSink = Callable[[Batch], Awaitable[None]]
"""Persist a batch; returns only after it is committed (so it may be acknowledged)."""


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


class Platform(abc.ABC):
    """One social platform's adapter. Stateless across accounts: every call gets its page."""

    name: str  # registry key, e.g. "sandbox", "douyin"
    label: str  # shown to operators, e.g. "抖音"
    capabilities: frozenset[str] = frozenset({"comments", "direct_messages", "qr_login"})
    """What the platform can do; the outbox refuses a reply it cannot send (DIRECT_MESSAGES)."""

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
    async def check_session(self, page: "Page") -> bool:
        """True when the page's session is logged in."""

    @abc.abstractmethod
    async def watch(self, page: "Page", account: AccountInfo, sink: BatchSink) -> None:
        """Attach push/interception listeners that feed `sink` while the page lives.
        Returns once attached; the pool keeps the page open and calls `poll` on its schedule."""

    @abc.abstractmethod
    async def poll(self, page: "Page", account: AccountInfo, sink: BatchSink) -> None:
        """One crawl cycle (the fallback when pushes are absent): navigate, let the page fetch,
        hand what it saw to `sink`. Raise SessionExpired when logged out."""

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


@dataclass
class PlatformRuntime:
    """What the engine offers platforms at startup."""

    data_dir: Any
    settings: Any


class PlatformRegistry:
    def __init__(self) -> None:
        self._platforms: dict[str, Platform] = {}

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
        """Register every platform listed under the entry-point group, then any built-in
        platform the entry points did not list; skip (and log) broken ones.

        Why the built-in fallback: entry points are read from the metadata of installed
        distributions (the `*.dist-info` / `*.egg-info` folders on sys.path), not from the code.
        A frozen build (PyInstaller) contains only what its spec collected, and loses the
        entry points when that metadata is not copied in or is stale; a source checkout run
        without `pip install -e .` has no metadata at all. The built-in platforms are part of
        this package's own code, so their presence must not depend on that metadata: those
        the entry points did not name are loaded from BUILTIN_PLATFORMS, the same way. A
        built-in that the entry points did name is not loaded twice, even when it failed.
        Third-party platforms are still found only through entry points (pip-installed
        plugins next to a frozen build are not visible to it anyway).
        """
        listed: set[str] = set()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            listed.add(ep.name)
            self._load(ep)
        for name, value in BUILTIN_PLATFORMS.items():
            if name not in listed:
                log.debug("built-in platform %r is not in the entry points; loaded directly", name)
                self._load(EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP))

    def _load(self, ep: EntryPoint) -> None:
        try:
            platform = ep.load()
            if getattr(platform, "name", None) != ep.name:
                raise ValueError(f"entry point {ep.name!r} exports platform {platform.name!r}")
            self.register(platform)
        except Exception:
            log.exception("platform plugin %r failed to load; skipped", ep.name)
