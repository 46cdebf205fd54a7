"""What a platform hands to the DataStore: one crawl batch of platform records.

Platform parsers build plain dicts with these field names from whatever the platform's pages
fetch or push; the DataStore validates every record with the models below and rejects the bad
ones one by one (with a reason) while storing the rest of the batch. Times must be aware
datetimes or epoch numbers (seconds or milliseconds; the DataStore normalises them to UTC).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from .store.validation import clean_text, utc_instant

Direction = Literal["in", "out"]

# Limits shared by validation everywhere (DataStore, server, operator input).
MAX_ID_LEN = 128
MAX_NAME_LEN = 128
MAX_TEXT_LEN = 20_000
MAX_URL_LEN = 4_096
MAX_KIND_LEN = 16
MAX_COUNT = 2**31 - 1


def _text(max_length: int, min_length: int = 0) -> Any:
    """The type of every text field: a string of that length, then checked by clean_text
    (no control characters or lone surrogates, newlines normalised). A type rather than one
    validator for every field: it is not called for the fields that are no text or None,
    which made most of the calls (validation.py)."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length),
                     AfterValidator(clean_text)]


Id = _text(MAX_ID_LEN, min_length=1)  # a record's own id, or its topic's
OptionalId = _text(MAX_ID_LEN) | None
Name = _text(MAX_NAME_LEN) | None
Url = _text(MAX_URL_LEN) | None
Text = _text(MAX_TEXT_LEN)
OptionalText = Text | None
ShortKind = Annotated[str, AfterValidator(clean_text)]  # its length: _short_kind below


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
    platform_content_id: Id
    kind: ShortKind = "video"
    title: OptionalText = None
    cover_url: Url = None
    url: Url = None
    publish_at: datetime | None = None
    stats: dict[str, int] = Field(default_factory=dict)


class CommentRecord(_Record):
    platform_comment_id: Id
    platform_content_id: Id
    parent_platform_comment_id: OptionalId = None
    author_id: OptionalId = None
    author_name: Name = None
    author_avatar: Url = None
    text: Text
    created_at: datetime
    direction: Direction = "in"
    like_count: int = 0
    is_read: bool | None = None  # the source's read mark, used only when first stored


class ConversationRecord(_Record):
    platform_conversation_id: Id
    peer_id: OptionalId = None
    peer_name: Name = None
    peer_avatar: Url = None


class MessageRecord(_Record):
    platform_message_id: Id
    platform_conversation_id: Id
    sender_id: OptionalId = None
    sender_name: Name = None
    sender_avatar: Url = None
    text: Text
    message_type: ShortKind = "text"
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
