"""The Douyin block of the settings file (`platforms.douyin`): how much one account's crawl
reads and how fast it moves. Accounts polled hard on Douyin get risk-controlled, so these are
the operator's to tune, not constants."""
from __future__ import annotations

from pydantic import Field, model_validator

from app.engine.platform import PlatformSettings


class DouyinSettings(PlatformSettings):
    max_works: int = Field(300, ge=1)  # how far back the works list is read (newest first)
    max_works_per_poll: int = Field(20, ge=1)  # works whose comments one cycle opens; the next one goes on
    max_scrolls: int = Field(30, ge=1)  # "load more" scrolls (pages) per list and cycle
    # How deep a work's comment list is backfilled over the cycles, in pages (newest first);
    # each cycle reads max_scrolls pages deeper than the last, as the page reads from the top.
    max_comment_pages: int = Field(200, ge=1)
    # A work whose count did not move may still have a new comment (one deleted, one written)
    # that no notice brought: the newest page of a work commented on within recheck_active_s is
    # read again at most every recheck_interval_s (see the adapter's module docstring).
    recheck_interval_s: float = Field(1800.0, ge=0, le=86400 * 7)
    recheck_active_s: float = Field(3 * 86400.0, ge=0)
    max_dm_pages: int = Field(50, ge=1)  # the same for a conversation's older messages (scrolling up)
    # ... and for the conversation list, in half-page scrolls from its top (older conversations below)
    max_conversation_pages: int = Field(200, ge=1)
    pause_min_s: float = Field(2.0, ge=0)  # a random pause between two navigations, like a person's
    pause_max_s: float = Field(6.0, ge=0)
    # Scheduled polls of one account at most this often (the global interval is 15-30 s): the
    # works list once a minute or so is what a creator checking their centre looks like.
    poll_interval_min_s: float | None = Field(45.0, ge=1, le=86400)
    poll_interval_max_s: float | None = Field(90.0, ge=1, le=86400)
    # A reply notice that names no comment brings the next poll forward, but a stream of them
    # must not turn into a crawl every few seconds: half the scheduled pace at most.
    early_poll_after_s: float = Field(30.0, ge=1, le=86400)

    @model_validator(mode="after")
    def _pause_range(self) -> "DouyinSettings":
        if self.pause_max_s < self.pause_min_s:
            raise ValueError("pause_max_s must not be less than pause_min_s")
        return self
