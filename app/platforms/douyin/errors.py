"""The Douyin adapter's own errors, each a kind of the engine's platform errors so the pool
and outbox treat them by their meaning (retry, re-login, blocked)."""
from __future__ import annotations

from app.engine.platform import PlatformError, TransientError


class BadResponse(TransientError):
    """A response the page received is not what the endpoint sends: not JSON (an HTML error
    or login page), truncated JSON, or JSON without the fields every such body has. Nothing
    of it is stored; the next crawl fetches it again."""

    code = "bad_response"

    def __init__(self, endpoint: str, problem: str) -> None:
        super().__init__(f"{endpoint}: {problem}")
        self.endpoint = endpoint
        self.problem = problem


class ApiRefused(TransientError):
    """The endpoint answered with status_code != 0 (and it is neither a logged-out nor a
    risk-control answer, which raise SessionExpired / ReplyBlocked)."""

    code = "api_refused"

    def __init__(self, endpoint: str, status_code: object, status_msg: str) -> None:
        super().__init__(f"{endpoint}: status_code {status_code}: {status_msg or 'no message'}")
        self.endpoint = endpoint
        self.status_code = status_code
        self.status_msg = status_msg


class PageChanged(PlatformError):
    """The page no longer has what the adapter relies on: Douyin changed its markup or URLs.
    The message names what was missing on which page; `snapshot` is the folder holding the
    page's HTML and a screenshot taken at that moment (None when they could not be saved)."""

    code = "page_changed"

    def __init__(self, what: str, page: str, snapshot: str | None = None) -> None:
        message = f"page changed: {what} not found on {page}"
        if snapshot:
            message += f" (snapshot: {snapshot})"
        super().__init__(message)
        self.what = what
        self.page = page
        self.snapshot = snapshot
