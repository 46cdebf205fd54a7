"""What a platform hands to the DataStore: one crawl batch of platform records.

Platform parsers build plain dicts with these field names from whatever the platform's pages
fetch or push; the DataStore validates every record with the models below and rejects the bad
ones one by one (with a reason) while storing the rest of the batch. Times must be aware
datetimes or epoch numbers (seconds or milliseconds; the DataStore normalises them to UTC).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .store.validation import clean_text, utc_instant

Direction = Literal["in", "out"]

# Limits shared by validation everywhere (DataStore, server, operator input).
MAX_ID_LEN = 128
MAX_NAME_LEN = 128
MAX_TEXT_LEN = 20_000
MAX_URL_LEN = 4_096
MAX_KIND_LEN = 16
MAX_COUNT = 2**31 - 1


class _Record(BaseModel):
    # Numbers are accepted where text is expected: platforms often send numeric ids.
    model_config = ConfigDict(
        extra="ignore", str_strip_whitespace=False, frozen=True, coerce_numbers_to_str=True
    )

    # The record's ids in the platform's other id systems, by system name (e.g. Douyin's
    # {"item_id": "@j…"} beside a work's numeric id, or a comment's encrypted V1 id beside
    # its numeric one). The DataStore keeps them, so a record that arrives under any of its
    # ids updates the one stored row instead of adding a second.
    aliases: dict[str, str] = Field(default_factory=dict)

    @field_validator("aliases")
    @classmethod
    def _alias_ids(cls, value: dict[str, str]) -> dict[str, str]:
        for system, alias in value.items():
            if not 1 <= len(system) <= MAX_KIND_LEN:
                raise ValueError(f"alias system {system[:40]!r} must be 1 to {MAX_KIND_LEN} characters")
            if not 1 <= len(alias) <= MAX_ID_LEN:
                raise ValueError(f"alias {system} must be 1 to {MAX_ID_LEN} characters")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _clean_strings(cls, value: Any) -> Any:
        """Every text field: no control characters or lone surrogates (validation.py)."""
        return clean_text(value) if isinstance(value, str) else value

    @field_validator("created_at", "publish_at", mode="before", check_fields=False)
    @classmethod
    def _utc_times(cls, value: Any) -> Any:
        """Epoch seconds/milliseconds or aware datetimes, to UTC, within a sane range."""
        return None if value is None else utc_instant(value)

    @field_validator("kind", "message_type", check_fields=False)
    @classmethod
    def _short_kind(cls, value: str) -> str:
        if not 1 <= len(value) <= MAX_KIND_LEN:
            raise ValueError(f"must be 1 to {MAX_KIND_LEN} characters")
        return value

    @field_validator("like_count", check_fields=False)
    @classmethod
    def _count(cls, value: int) -> int:
        if not 0 <= value <= MAX_COUNT:
            raise ValueError(f"must be between 0 and {MAX_COUNT}")
        return value


class ContentRecord(_Record):
    platform_content_id: str = Field(min_length=1, max_length=MAX_ID_LEN)
    kind: str = "video"
    title: str | None = Field(None, max_length=MAX_TEXT_LEN)
    cover_url: str | None = Field(None, max_length=MAX_URL_LEN)
    url: str | None = Field(None, max_length=MAX_URL_LEN)
    publish_at: datetime | None = None
    stats: dict[str, int] = Field(default_factory=dict)


class CommentRecord(_Record):
    platform_comment_id: str = Field(min_length=1, max_length=MAX_ID_LEN)
    platform_content_id: str = Field(min_length=1, max_length=MAX_ID_LEN)
    parent_platform_comment_id: str | None = Field(None, max_length=MAX_ID_LEN)
    author_id: str | None = Field(None, max_length=MAX_ID_LEN)
    author_name: str | None = Field(None, max_length=MAX_NAME_LEN)
    author_avatar: str | None = Field(None, max_length=MAX_URL_LEN)
    text: str = Field(max_length=MAX_TEXT_LEN)
    created_at: datetime
    direction: Direction = "in"
    like_count: int = 0
    is_read: bool | None = None  # the source's read mark, used only when first stored


class ConversationRecord(_Record):
    platform_conversation_id: str = Field(min_length=1, max_length=MAX_ID_LEN)
    peer_id: str | None = Field(None, max_length=MAX_ID_LEN)
    peer_name: str | None = Field(None, max_length=MAX_NAME_LEN)
    peer_avatar: str | None = Field(None, max_length=MAX_URL_LEN)


class MessageRecord(_Record):
    platform_message_id: str = Field(min_length=1, max_length=MAX_ID_LEN)
    platform_conversation_id: str = Field(min_length=1, max_length=MAX_ID_LEN)
    sender_id: str | None = Field(None, max_length=MAX_ID_LEN)
    sender_name: str | None = Field(None, max_length=MAX_NAME_LEN)
    sender_avatar: str | None = Field(None, max_length=MAX_URL_LEN)
    text: str = Field(max_length=MAX_TEXT_LEN)
    message_type: str = "text"
    created_at: datetime
    direction: Direction = "in"
    is_recalled: bool = False
    is_read: bool | None = None  # the source's read mark, used only when first stored


Raw = dict[str, Any]


@dataclass
class Batch:
    """One crawl's worth of records for one account; stored in one transaction."""

    account_id: str
    contents: list[Raw | ContentRecord] = field(default_factory=list)
    comments: list[Raw | CommentRecord] = field(default_factory=list)
    conversations: list[Raw | ConversationRecord] = field(default_factory=list)
    messages: list[Raw | MessageRecord] = field(default_factory=list)
    source: str = "crawl"  # crawl | push | import | worker:<id>

    def __len__(self) -> int:
        return len(self.contents) + len(self.comments) + len(self.conversations) + len(self.messages)

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        """The records as JSON (`model_dump(mode="json")` of each, validated): what a remote
        worker sends its master (app/worker). A record that does not validate is left out,
        as the DataStore would reject it."""
        out: dict[str, list[dict[str, Any]]] = {}
        for name, model in BATCH_RECORDS.items():
            records = out[name] = []
            for raw in getattr(self, name):
                try:
                    record = raw if isinstance(raw, model) else model.model_validate(raw)
                except ValueError:  # pydantic's ValidationError
                    continue
                records.append(record.model_dump(mode="json"))
        return out


BATCH_RECORDS: dict[str, type[_Record]] = {
    "contents": ContentRecord, "comments": CommentRecord,
    "conversations": ConversationRecord, "messages": MessageRecord,
}
"""Each Batch list and the record model of its items."""
