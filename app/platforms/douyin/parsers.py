"""Pure functions: the bodies Douyin's pages receive (and the page state they hold) → record
dicts for app.engine.records. No I/O; tested on the fixtures in shared/fixtures/douyin.

The rules that matter, from the fixtures' README:
- Every epoch value is real UTC (the original's "−8 h" was a bug). The V1 works list gives
  only a Beijing-time display string ("发布于2025年01月10日 10:00"), read as UTC+8.
- Ids are kept as strings, exactly. Bodies are decoded with Python's json, whose integers are
  exact at any size, so a 19-digit JSON number (notice `nid`, above 2^53) is read as it was
  sent; where a `*_str` twin exists it is preferred, and page state (which went through
  JavaScript) is trusted only through the string form.
- Two comment id systems exist: the V1 creator API's opaque `@j…` ids and the V2 web API's
  numeric `cid`s. Both are kept; `link_comment_aliases` records the alias when one comment
  is seen under both.
- `has_more` is a bool in some APIs and 0/1 in others.
- Emoji stay as their `[名称]` tags: they are text.

A body that is not what its endpoint sends raises BadResponse (nothing of it is used); a body
with status_code != 0 raises SessionExpired, ReplyBlocked or ApiRefused; one bad item in a
good body is skipped and named in `Parsed.problems`, the rest is kept.
"""
from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import parse_qs, urlsplit

from app.engine.platform import AccountBlocked, NeedsVerification, RateLimited, ReplyBlocked, SessionExpired
from app.engine.records import Batch

from .anatomy import API
from .errors import ApiRefused, BadResponse

Raw = dict[str, Any]
BEIJING = timezone(timedelta(hours=8))
_DISPLAY_TIME = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})")
_DIGITS = re.compile(r"\d+")
_INVISIBLE = re.compile("[\u200b\u2060\ufeff]")  # zero-width marks an editor leaves (not ZWJ: emoji need it)
_SPACE = re.compile(r"\s+")
COMMENT_NOTICE = 31  # notice_list_v2[].type of comment notices (replies included)
SYSTEM_LINE = 701  # content.aweType of "我们已互相关注…"
TEXT_MESSAGE = 7
TOO_FAST_PAUSE_S = 30 * 60.0  # after "too fast", the account's scheduled polls wait this long


class ItemError(ValueError):
    """One list item cannot be read; the body's other items still can."""


@dataclass
class Peer:
    """A DM peer's profile, keyed in the page by sec_uid (user_detail) or uid (imStore)."""

    sec_uid: str | None
    uid: str | None = None
    nickname: str | None = None
    avatar: str | None = None
    short_id: str | None = None


@dataclass
class Parsed:
    """Records read from one or more bodies, in arrival order, plus what the adapter needs
    to page on (`cursor`, `has_more` of the last list body) and to link ids."""

    contents: list[Raw] = field(default_factory=list)
    comments: list[Raw] = field(default_factory=list)
    conversations: list[Raw] = field(default_factory=list)
    messages: list[Raw] = field(default_factory=list)
    peers: list[Peer] = field(default_factory=list)
    notice_ids: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    cursor: str | None = None
    has_more: bool | None = None
    self_uid: str | None = None  # our numeric uid, when the body shows it

    def __len__(self) -> int:
        return len(self.contents) + len(self.comments) + len(self.conversations) + len(self.messages)

    def extend(self, other: "Parsed") -> None:
        for name in ("contents", "comments", "conversations", "messages", "peers", "notice_ids", "problems"):
            getattr(self, name).extend(getattr(other, name))
        self.cursor, self.has_more = other.cursor, other.has_more
        self.self_uid = other.self_uid or self.self_uid

    def to_batch(self, account_id: str, source: str) -> Batch:
        return Batch(account_id, list(self.contents), list(self.comments), list(self.conversations),
                     list(self.messages), source=source)


# ---- bodies --------------------------------------------------------------------------------
def decode_body(endpoint: str, text: str | bytes, content_type: str | None = None) -> Raw:
    """The JSON object a response carries, or BadResponse saying why it is not one."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadResponse(endpoint, f"body is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    head = text.lstrip()[:200].lower()
    if "html" in (content_type or "").lower() or head.startswith(("<!doctype", "<html", "<")):
        raise BadResponse(endpoint, "an HTML page came instead of JSON (an error or login page)")
    if not head:
        raise BadResponse(endpoint, "the body is empty")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated")
        where = "truncated JSON" if truncated else "malformed JSON"
        raise BadResponse(endpoint, f"{where} ({exc.msg} at character {exc.pos} of {len(text)})") from None
    if not isinstance(body, dict):
        raise BadResponse(endpoint, f"expected a JSON object, got {type(body).__name__}")
    return body


def check_status(endpoint: str, body: Raw, *, sending: bool = False) -> None:
    """Raise for a body whose status_code is not 0: SessionExpired when it says the session
    is gone, NeedsVerification / AccountBlocked for risk control, ReplyBlocked for a refused
    send, ApiRefused otherwise."""
    if "status_code" not in body:
        raise BadResponse(endpoint, "no status_code in the body")
    code = body["status_code"]
    if code == 0 and not isinstance(code, bool):
        return
    message = str(body.get("status_msg") or body.get("message") or "")
    if any(text in message for text in API.texts("logged_out")):
        raise SessionExpired(f"Douyin says the session is gone: {message}")
    if any(text in message for text in API.texts("verification")):
        raise NeedsVerification(f"Douyin wants the account verified: {message}")
    if any(text in message for text in API.texts("blocked")):
        raise AccountBlocked(f"Douyin restricts the account: {message}")
    if sending:
        raise ReplyBlocked(message or f"Douyin refused the reply (status_code {code})")
    if any(text in message for text in API.texts("too_fast")):
        raise RateLimited(f"Douyin says the account goes too fast: {message}", retry_after_s=TOO_FAST_PAUSE_S)
    raise ApiRefused(endpoint, code, message)


def _items(endpoint: str, body: Raw, key: str) -> list[Any]:
    """The body's list under `key` (null counts as empty, as Douyin sends for no items)."""
    if key not in body:
        raise BadResponse(endpoint, f"no {key!r} in the body")
    items = body[key]
    if items is None:
        return []
    if not isinstance(items, list):
        raise BadResponse(endpoint, f"{key!r} is {type(items).__name__}, not a list")
    return items


def _each(parsed: Parsed, endpoint: str, items: Iterable[Any], read: Callable[[Any], Raw | None],
          into: list[Raw]) -> None:
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ItemError(f"is {type(item).__name__}, not an object")
            record = read(item)
        except (ItemError, KeyError, TypeError, ValueError) as exc:
            what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            parsed.problems.append(f"{endpoint} item {index}: {what}")
            continue
        if record is not None:
            into.append(record)


def douyin_text(text: str) -> str:
    """A text as Douyin keeps and shows it: whitespace runs (its titles carry \\r and line
    breaks, its editor turns a blank line into two) as one space, no zero-width marks, nothing
    around it. Emoji stay `[名称]` tags, exactly: they are text, and a comment row is matched by
    them when replying (the engine's comparison of a sent reply forgets which emoji it was)."""
    return _SPACE.sub(" ", _INVISIBLE.sub("", text)).strip()


# ---- values --------------------------------------------------------------------------------
def platform_id(value: Any, what: str) -> str:
    """An id as its exact string: strings as sent, JSON integers in full. Floats are refused:
    an id that went through a float (a JavaScript number above 2^53) has lost digits."""
    if isinstance(value, bool) or value is None:
        raise ItemError(f"{what} is {value!r}, not an id")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip() and value.strip() != "0":
        return value.strip()
    if isinstance(value, float):
        raise ItemError(f"{what} {value!r} went through a float and lost its digits")
    raise ItemError(f"{what} {value!r} is not an id")


def has_more(value: Any) -> bool:
    """`has_more` as Douyin sends it: true/false, or 0/1."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if value is None:
        return False
    raise ItemError(f"has_more {value!r} is neither a bool nor 0/1")


def epoch_seconds(value: Any, what: str = "create_time") -> datetime:
    """Epoch seconds (number or numeric string) as a UTC datetime, no offset applied."""
    if isinstance(value, bool):
        raise ItemError(f"{what} {value!r} is not a time")
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = int(value)
    if not isinstance(value, (int, float)) or value <= 0:
        raise ItemError(f"{what} {value!r} is not epoch seconds")
    return datetime.fromtimestamp(value, tz=timezone.utc)


def display_time(value: Any) -> datetime:
    """"发布于2025年01月10日 10:00" (Beijing time, minute precision) as UTC."""
    match = _DISPLAY_TIME.search(value) if isinstance(value, str) else None
    if not match:
        raise ItemError(f"create_time {value!r} is not a 发布于YYYY年MM月DD日 HH:MM time")
    year, month, day, hour, minute = (int(g) for g in match.groups())
    return datetime(year, month, day, hour, minute, tzinfo=BEIJING).astimezone(timezone.utc)


def iso_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ItemError(f"createdAt {value!r} is not an ISO time")
    instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if instant.tzinfo is None:
        raise ItemError(f"createdAt {value!r} has no time zone")
    return instant.astimezone(timezone.utc)


def count(value: Any) -> int:
    """A count that may come as an int or a numeric string; anything else counts as 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value)
    return 0


def long_value(value: Any) -> int:
    """A protobuf Long as page state holds it ({low, high, unsigned}) as a Python int."""
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return int(value)
    if not isinstance(value, dict) or "low" not in value or "high" not in value:
        raise ItemError(f"{value!r} is not a Long")
    number = (int(value["high"]) << 32) | (int(value["low"]) & 0xFFFFFFFF)
    if not value.get("unsigned") and number >= 1 << 63:
        number -= 1 << 64
    return number


def first_url(image: Any) -> str | None:
    """`url_list[0]` of an image object ({uri, url_list}), if it has one."""
    if isinstance(image, dict) and isinstance(image.get("url_list"), list) and image["url_list"]:
        url = image["url_list"][0]
        return url if isinstance(url, str) and url else None
    return None


def _text(value: Any, what: str = "text") -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ItemError(f"{what} is {type(value).__name__}, not text")
    return value


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# ---- works ---------------------------------------------------------------------------------
def parse_item_list(body: Raw, *, self_uid: str | None = None) -> Parsed:
    """V1 creator works list (`aweme/v1/creator/item/list`)."""
    endpoint = "creator/item/list"
    check_status(endpoint, body)
    parsed = Parsed(cursor=_opaque_cursor(body.get("cursor")), has_more=has_more(body.get("has_more")))

    def read(item: Raw) -> Raw | None:
        owner = str(item.get("anchor_user_id") or "")
        if self_uid and owner and owner != self_uid:
            raise ItemError(f"work {item.get('item_id_plain')} is by {owner}, not by our account")
        parsed.self_uid = parsed.self_uid or owner or None
        record = {
            "platform_content_id": platform_id(item["item_id_plain"], "item_id_plain"),
            "kind": "video" if item.get("media_type", 4) == 4 else "other",
            "title": _text(item.get("title"), "title"),
            "cover_url": _name(item.get("cover_image_url")),
            "url": _name(item.get("item_link")),
            "publish_at": display_time(item["create_time"]),
            "stats": {"comment_count": count(item.get("comment_count"))},
        }
        if isinstance(item.get("item_id"), str) and item["item_id"].startswith("@"):
            record["aliases"] = {"item_id": item["item_id"]}
        return record

    _each(parsed, endpoint, _items(endpoint, body, "item_info_list"), read, parsed.contents)
    return parsed


JANUS_STATS = ("play_count", "digg_count", "comment_count", "share_count", "collect_count", "forward_count")


def parse_janus_work_list(body: Raw, *, self_uid: str | None = None) -> Parsed:
    """Works with statistics (`janus/douyin/creator/pc/work_list`); `items[i].metrics` are
    paired with `aweme_list[i]` by index and every metric is a string."""
    endpoint = "janus work_list"
    check_status(endpoint, body)
    parsed = Parsed(cursor=_opaque_cursor(body.get("max_cursor")), has_more=has_more(body.get("has_more")))
    extras = body.get("items") if isinstance(body.get("items"), list) else []

    def read(work: Raw) -> Raw | None:
        author = work.get("author") or {}
        owner = str(author.get("uid") or work.get("author_user_id") or "")
        if self_uid and owner and owner != self_uid:
            raise ItemError(f"work {work.get('aweme_id')} is by {owner}, not by our account")
        parsed.self_uid = parsed.self_uid or owner or None
        stats = {k: count(v) for k, v in (work.get("statistics") or {}).items() if k in JANUS_STATS}
        record = {
            "platform_content_id": platform_id(work["aweme_id"], "aweme_id"),
            "kind": "video",
            "title": _text(work.get("desc") or work.get("caption") or work.get("item_title"), "desc"),
            "cover_url": first_url(work.get("Cover")) or first_url((work.get("video") or {}).get("cover")),
            "url": _name(work.get("share_url")),
            "publish_at": epoch_seconds(work["create_time"]),
            "stats": stats,
        }
        if isinstance(work.get("item_id"), str) and work["item_id"].startswith("@"):
            record["aliases"] = {"item_id": work["item_id"]}
        return record

    works = _items(endpoint, body, "aweme_list")
    _each(parsed, endpoint, works, read, parsed.contents)
    by_id = {c["platform_content_id"]: c for c in parsed.contents}
    for work, extra in zip(works, extras):
        record = by_id.get(str(work.get("aweme_id"))) if isinstance(work, dict) else None
        metrics = extra.get("metrics") if isinstance(extra, dict) else None
        if record is not None and isinstance(metrics, dict):
            for key, value in metrics.items():  # counts only: rates and proportions are not
                if (key.endswith(("_count", "_show")) and isinstance(value, str)
                        and _DIGITS.fullmatch(value) and key not in record["stats"]):
                    record["stats"][key] = int(value)
    return parsed


def _opaque_cursor(value: Any) -> str | None:
    return None if value is None or isinstance(value, bool) else str(value)


# ---- comments ------------------------------------------------------------------------------
def parse_creator_comments(body: Raw, *, content_id: str, parent_id: str | None = None) -> Parsed:
    """V1 creator comments (`creator/comment/list`) or their replies (`…/reply/list`). The
    body names neither the work nor the parent: `content_id` is the request's `item_id` (or
    the work's numeric id when known), `parent_id` the request's `comment_id`."""
    endpoint = "creator/comment/reply/list" if parent_id else "creator/comment/list"
    check_status(endpoint, body)
    parsed = Parsed(cursor=_opaque_cursor(body.get("cursor")), has_more=has_more(body.get("has_more")))

    def read(item: Raw) -> Raw:
        user = item.get("user_info") or {}
        return {
            "platform_comment_id": platform_id(item["comment_id"], "comment_id"),
            "platform_content_id": content_id,
            "parent_platform_comment_id": parent_id,
            "author_id": _name(user.get("user_id")),
            "author_name": _name(user.get("screen_name")),
            "author_avatar": _name(user.get("avatar_url")),
            "text": _text(item["text"]),
            "created_at": epoch_seconds(item["create_time"]),
            "direction": "out" if item.get("is_author") is True else "in",
            "like_count": count(item.get("digg_count")),
        }

    _each(parsed, endpoint, _items(endpoint, body, "comment_info_list"), read, parsed.comments)
    return parsed


def web_comment_parent(item: Raw) -> str | None:
    """The comment a V2 comment answers: the second-level reply it names, else its thread's
    first-level comment; None for a first-level comment."""
    for key in ("reply_to_reply_id", "reply_id"):
        value = item.get(key)
        if value not in (None, "", "0", 0):
            return platform_id(value, key)
    return None


def web_comment_record(item: Raw, *, self_uid: str | None, fallback_parent: str | None = None,
                       created: Any = None) -> Raw:
    user = item.get("user") or {}
    uid = str(user.get("uid") or "") or None
    ours = item.get("label_text") == "作者" or (self_uid is not None and uid == self_uid)
    return {
        "platform_comment_id": platform_id(item["cid"], "cid"),
        "platform_content_id": platform_id(item["aweme_id"], "aweme_id"),
        "parent_platform_comment_id": web_comment_parent(item) or fallback_parent,
        "author_id": uid,
        "author_name": _name(user.get("nickname")),
        "author_avatar": first_url(user.get("avatar_thumb")),
        "text": _text(item["text"]),
        "created_at": epoch_seconds(item["create_time"] if created is None else created),
        "direction": "out" if ours else "in",
        "like_count": count(item.get("digg_count")),
    }


def parse_web_comments(body: Raw, *, self_uid: str | None = None, parent_id: str | None = None) -> Parsed:
    """V2 web comments (`web/comment/list/select`) or replies (`…/list/reply`, where
    `parent_id` is the request's `comment_id`, used when an item does not name its parent)."""
    endpoint = "web/comment/list/reply" if parent_id else "web/comment/list/select"
    check_status(endpoint, body)
    parsed = Parsed(cursor=_opaque_cursor(body.get("cursor")), has_more=has_more(body.get("has_more")))
    _each(parsed, endpoint, _items(endpoint, body, "comments"),
          lambda item: web_comment_record(item, self_uid=self_uid, fallback_parent=parent_id),
          parsed.comments)
    return parsed


def parse_notices(notices: Any, *, self_uid: str | None = None, endpoint: str = "notice") -> Parsed:
    """Comment notices (type 31), from `notice/detail`'s `notice_list_v2` or the page's
    `noticeStore.noticePushList`: the comment and, when it is our work, the work. A reply to
    someone names no parent id (only the replied-to name); its parent is filled in when the
    reply list is crawled."""
    parsed = Parsed()
    if not isinstance(notices, list):
        raise BadResponse(endpoint, f"expected a list of notices, got {type(notices).__name__}")

    def read(notice: Raw) -> Raw | None:
        if notice.get("type") != COMMENT_NOTICE:
            return None
        nid = notice_id(notice)
        block = notice.get("comment") or {}
        comment, work = block.get("comment"), block.get("aweme")
        if not isinstance(comment, dict):
            raise ItemError(f"notice {nid} carries no comment")
        record = web_comment_record(comment, self_uid=self_uid, created=notice.get("create_time"))
        if isinstance(work, dict):
            owner = str((work.get("author") or {}).get("uid") or work.get("author_user_id") or "")
            if not self_uid or owner == self_uid:
                parsed.contents.append({
                    "platform_content_id": platform_id(work["aweme_id"], "aweme_id"),
                    "title": _text(work.get("desc"), "desc"),
                    "cover_url": first_url((work.get("video") or {}).get("cover")),
                    "publish_at": epoch_seconds(work["create_time"]),
                })
        parsed.notice_ids.append(nid)
        return record

    _each(parsed, endpoint, notices, read, parsed.comments)
    return parsed


def notice_works_to_crawl(notices: Any) -> list[str]:
    """The works whose comments must be read for what comment notices said: a notice that
    carries no comment, or a reply that does not name its parent (only the replied-to
    name). The work is the notice's `comment.aweme`, its comment's `aweme_id`, or the
    `item_id` in `general_notice.message_extra` (a JSON text)."""
    works: list[str] = []
    for notice in notices if isinstance(notices, list) else ():
        if not isinstance(notice, dict) or notice.get("type") != COMMENT_NOTICE:
            continue
        block = notice.get("comment") if isinstance(notice.get("comment"), dict) else {}
        comment = block.get("comment") if isinstance(block.get("comment"), dict) else None
        if comment is not None and not (comment.get("reply_to_userid") or comment.get("reply_to_username")):
            continue
        work = _notice_work_id(block, comment, notice.get("general_notice"))
        if work and work not in works:
            works.append(work)
    return works


def _notice_work_id(block: Raw, comment: Raw | None, general: Any) -> str | None:
    candidates = [(block.get("aweme") or {}).get("aweme_id") if isinstance(block.get("aweme"), dict) else None,
                  (comment or {}).get("aweme_id")]
    if isinstance(general, dict) and isinstance(general.get("message_extra"), str):
        with contextlib.suppress(json.JSONDecodeError):
            extra = json.loads(general["message_extra"])
            candidates.append(extra.get("item_id") if isinstance(extra, dict) else None)
    for value in candidates:
        try:
            return platform_id(value, "aweme_id")
        except ItemError:
            continue
    return None


def parse_notice_detail(body: Raw, *, self_uid: str | None = None) -> Parsed:
    endpoint = "notice/detail"
    check_status(endpoint, body)
    return parse_notices(_items(endpoint, body, "notice_list_v2"), self_uid=self_uid, endpoint=endpoint)


def notice_id(notice: Raw) -> str:
    """`nid_str` when present (it is exact even after JavaScript), else the JSON integer."""
    if notice.get("nid_str"):
        nid = platform_id(notice["nid_str"], "nid_str")
        if isinstance(notice.get("nid"), int) and str(notice["nid"]) != nid:
            raise ItemError(f"nid {notice['nid']} differs from nid_str {nid}")
        return nid
    return platform_id(notice.get("nid"), "nid")


def link_comment_aliases(known: list[Raw], seen: list[Raw], system: str, *, by_time: bool = True) -> int:
    """Mark comments of one work seen under two id systems as one: a comment in `seen` with
    the same work, text, author name and (`by_time`) time to the second as exactly one
    comment in `known`, and vice versa, gets that comment's id as an alias under `system`.
    Ambiguous pairs are left unlinked: a wrong link would merge two people's comments.
    Returns how many were linked."""
    def key(c: Raw) -> tuple[Any, ...]:
        return (c["platform_content_id"], tuple(c["text"].split()), c.get("author_name"),
                c.get("created_at") if by_time else None)

    known_by: dict[tuple[Any, ...], list[Raw]] = {}
    for comment in known:
        known_by.setdefault(key(comment), []).append(comment)
    seen_by: dict[tuple[Any, ...], list[Raw]] = {}
    for comment in seen:
        seen_by.setdefault(key(comment), []).append(comment)
    linked = 0
    for k, comments in seen_by.items():
        matches = known_by.get(k, [])
        if len(comments) == 1 and len(matches) == 1 and comments[0]["platform_comment_id"] != matches[0]["platform_comment_id"]:
            comments[0]["aliases"] = {**comments[0].get("aliases", {}), system: matches[0]["platform_comment_id"]}
            linked += 1
    return linked


def page_comment(props: Raw, content_id: str) -> Raw:
    """A comment row's React props on the comment page (`cid` is an `@i/…` id of its own,
    neither API's) in the shape `link_comment_aliases` compares."""
    user = props.get("user") if isinstance(props.get("user"), dict) else {}
    return {"platform_comment_id": platform_id(props.get("cid"), "cid"), "platform_content_id": content_id,
            "text": _text(props.get("text")), "author_name": _name(user.get("nickname"))}


# ---- publishing ----------------------------------------------------------------------------
def published_comment(body: Raw, *, content_id: str, parent_id: str | None, text: str) -> Raw:
    """Our reply as the publish response returns it (`comment_info`), as a record to store at
    once; ReplyBlocked with Douyin's message when it refused."""
    endpoint = "comment/reply"
    check_status(endpoint, body, sending=True)
    info = body.get("comment_info")
    if not isinstance(info, dict) or not info.get("comment_id"):
        raise BadResponse(endpoint, "the reply was accepted but the answer has no comment_info.comment_id")
    try:
        return {
            "platform_comment_id": platform_id(info["comment_id"], "comment_id"),
            "platform_content_id": content_id,
            "parent_platform_comment_id": parent_id,
            "text": _text(info.get("text")) or text,
            "created_at": epoch_seconds(info["create_time"]) if info.get("create_time") else datetime.now(timezone.utc),
            "direction": "out",
        }
    except ItemError as exc:
        raise BadResponse(endpoint, str(exc)) from None


# ---- DMs -----------------------------------------------------------------------------------
def parse_user_detail(body: Raw) -> Parsed:
    """DM peers' profiles (`creator/im/user_detail`); `user_id` is the peer's sec_uid."""
    endpoint = "creator/im/user_detail"
    check_status(endpoint, body)
    parsed = Parsed()
    for index, entry in enumerate(_items(endpoint, body, "user_list")):
        user = entry.get("user") if isinstance(entry, dict) else None
        sec_uid = (entry.get("user_id") if isinstance(entry, dict) else None) or (user or {}).get("SecretUseId")
        if not isinstance(user, dict) or not isinstance(sec_uid, str) or not sec_uid:
            parsed.problems.append(f"{endpoint} item {index}: no user or user_id")
            continue
        parsed.peers.append(Peer(sec_uid=sec_uid, nickname=_name(user.get("nickname")),
                                 avatar=first_url(user.get("avatar_thumb")), short_id=_name(user.get("ShortId"))))
    return parsed


def conversation_uids(conversation_id: str) -> tuple[str, str]:
    """The two numeric uids of a one-to-one conversation id `0:1:<uidA>:<uidB>`."""
    parts = conversation_id.split(":")
    if len(parts) != 4 or not all(_DIGITS.fullmatch(p) for p in parts[2:]):
        raise ItemError(f"conversation id {conversation_id!r} is not 0:1:<uid>:<uid>")
    return parts[2], parts[3]


def message_content(raw: Any) -> Raw:
    """`content` as an object: page state on the creator centre holds one, imStore a JSON string."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        try:
            content = json.loads(raw)
        except json.JSONDecodeError:
            raise ItemError("content is a string but not JSON") from None
        if isinstance(content, dict):
            return content
    raise ItemError(f"content is {type(raw).__name__}, not an object")


def message_record(msg: Raw, self_uid: str | None = None) -> Raw | None:
    """One DM from page state; None for system lines ("我们已互相关注…") and tips. Ours when
    `isFromMe` (creator chat page) or sent by `self_uid` (imStore has no isFromMe)."""
    content = message_content(msg.get("content"))
    if content.get("aweType") == SYSTEM_LINE or ("tips" in content and not content.get("text")):
        return None
    if not isinstance(content.get("text"), str):
        return None  # cards, videos…: no text to show (types unverified)
    kind = msg.get("type")
    return {
        "platform_message_id": platform_id(msg["serverId"], "serverId"),
        "platform_conversation_id": platform_id(msg["conversationId"], "conversationId"),
        "sender_id": platform_id(msg["sender"], "sender"),
        "sender_name": _name(msg.get("nickname")),
        "sender_avatar": _name(msg.get("avatar")),
        "text": content["text"],
        "message_type": "text" if kind == TEXT_MESSAGE else f"type_{kind}",
        "created_at": iso_time(msg["createdAt"]),
        "direction": "out" if msg.get("isFromMe") is True or (self_uid and str(msg.get("sender")) == self_uid) else "in",
    }


def parse_chat_messages(rows: Any, *, self_uid: str | None = None, peers: Iterable[Peer] = ()) -> Parsed:
    """Messages read from the creator chat page's rows (their React props), and the
    conversation they are in with the peer's name (from the peer's own rows or `peers`)."""
    endpoint = "chat page state"
    if not isinstance(rows, list):
        raise BadResponse(endpoint, f"expected a list of messages, got {type(rows).__name__}")
    parsed = Parsed()
    _each(parsed, endpoint, rows, lambda m: message_record(m, self_uid), parsed.messages)
    for row in rows:
        if isinstance(row, dict) and row.get("isFromMe") is True and row.get("sender"):
            parsed.self_uid = str(row["sender"])
    self_uid = self_uid or parsed.self_uid
    by_sec = {p.sec_uid: p for p in peers if p.sec_uid}
    conversations: dict[str, Raw] = {}
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("conversationId"), str):
            continue
        conv = conversations.setdefault(row["conversationId"], {"platform_conversation_id": row["conversationId"]})
        if row.get("isFromMe") is not True and row.get("sender"):
            peer = by_sec.get(row.get("secSender"))
            conv["peer_id"] = str(row["sender"])
            conv["peer_name"] = _name(row.get("nickname")) or (peer.nickname if peer else None)
            conv["peer_avatar"] = _name(row.get("avatar")) or (peer.avatar if peer else None)
    for conv_id, conv in conversations.items():
        if "peer_id" not in conv and self_uid:
            try:
                conv["peer_id"] = next(u for u in conversation_uids(conv_id) if u != self_uid)
            except (ItemError, StopIteration):
                pass
    parsed.conversations.extend(conversations.values())
    return parsed


def parse_im_store(store: Any, *, self_uid: str | None = None, peers: Iterable[Peer] = ()) -> Parsed:
    """www.douyin.com's `imStore`: the conversation list (with unread counts and last
    messages), the websocket's push buffer and the peers' profiles. Participants' uids are
    protobuf Longs; the peer is the participant who is not us."""
    endpoint = "imStore"
    if not isinstance(store, dict):
        raise BadResponse(endpoint, f"expected an object, got {type(store).__name__}")
    parsed = Parsed()
    profiles = store.get("userInfoFromServerMap") or {}
    known = {p.sec_uid: p for p in peers if p.sec_uid}
    for uid, user in profiles.items() if isinstance(profiles, dict) else ():
        if isinstance(user, dict):
            peer = Peer(sec_uid=_name(user.get("sec_uid")), uid=str(uid), nickname=_name(user.get("nickname")),
                        avatar=first_url(user.get("avatar_thumb")), short_id=_name(user.get("unique_id")))
            parsed.peers.append(peer)
            if peer.sec_uid:
                known[peer.sec_uid] = peer
    by_uid = {p.uid: p for p in parsed.peers if p.uid}
    self_uid = self_uid or _self_from_conversations(store.get("converSationListOrigin"), known)
    parsed.self_uid = self_uid

    def read_conversation(conv: Raw) -> Raw:
        conv_id = platform_id(conv["id"], "id")
        peer_uid = str(conv.get("toParticipantUserId") or "")
        if not peer_uid:
            uids = conversation_uids(conv_id)
            peer_uid = next((u for u in uids if u != self_uid), "") if self_uid else ""
        peer = by_uid.get(peer_uid)
        last = conv.get("lastMessage")
        if isinstance(last, dict):
            record = message_record(last, self_uid)
            if record is not None:
                parsed.messages.append(record)
        return {
            "platform_conversation_id": conv_id,
            "peer_id": peer_uid or None,
            "peer_name": peer.nickname if peer else None,
            "peer_avatar": peer.avatar if peer else None,
        }

    _each(parsed, endpoint, store.get("converSationListOrigin") or [], read_conversation, parsed.conversations)
    pushed = Parsed()
    _each(pushed, endpoint, store.get("msgListToPush") or [],
          lambda m: message_record(m, self_uid), pushed.messages)
    parsed.messages.extend(pushed.messages)
    parsed.problems.extend(pushed.problems)
    listed = {c["platform_conversation_id"] for c in parsed.conversations}
    for message in pushed.messages:  # a push into a conversation the list does not hold (yet)
        conv_id = message["platform_conversation_id"]
        if conv_id in listed or not self_uid:
            continue
        listed.add(conv_id)
        try:
            peer_uid = next(u for u in conversation_uids(conv_id) if u != self_uid)
        except (ItemError, StopIteration):
            continue
        peer = by_uid.get(peer_uid)
        parsed.conversations.append({"platform_conversation_id": conv_id, "peer_id": peer_uid,
                                     "peer_name": peer.nickname if peer else None,
                                     "peer_avatar": peer.avatar if peer else None})
    for message in parsed.messages:  # imStore messages carry no names: the profiles do
        sender = by_uid.get(message["sender_id"])
        if sender is not None and message["direction"] == "in":
            message["sender_name"] = message["sender_name"] or sender.nickname
            message["sender_avatar"] = message["sender_avatar"] or sender.avatar
    return parsed


def _self_from_conversations(conversations: Any, peers: dict[str | None, Peer]) -> str | None:
    """Our uid: the participant present in every conversation whose sec_uid is no peer's."""
    candidates: set[str] | None = None
    for conv in conversations if isinstance(conversations, list) else ():
        participants = ((conv or {}).get("firstPageParticipant") or {}).get("participants") or []
        uids = set()
        for p in participants:
            try:
                if p.get("sec_uid") not in peers:
                    uids.add(str(long_value(p.get("user_id"))))
            except (ItemError, AttributeError, ValueError):
                continue
        candidates = uids if candidates is None else candidates & uids
    return next(iter(candidates)) if candidates and len(candidates) == 1 else None


# ---- by endpoint ---------------------------------------------------------------------------
def parse_endpoint(name: str, url: str, body: Raw, *, self_uid: str | None = None,
                   item_ids: Mapping[str, str] | None = None, known_comments: Mapping[str, Raw] | None = None) -> Parsed:
    """Records in the body of endpoint `name` (see anatomy/api.toml) fetched from `url`.
    The query supplies what the body lacks: the V1 comment list's work (`item_id`, the
    encrypted id, mapped to the numeric one through `item_ids` when the works list showed
    it) and the reply lists' parent (`comment_id`). The V1 reply list's request names only
    the parent, so its work is the parent's, from `known_comments` (comments seen before)."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    if name == "item_list":
        return parse_item_list(body, self_uid=self_uid)
    if name == "janus_work_list":
        return parse_janus_work_list(body, self_uid=self_uid)
    if name in ("creator_comment_list", "creator_comment_reply_list"):
        parent = query.get("comment_id") if name == "creator_comment_reply_list" else None
        if name == "creator_comment_reply_list" and not parent:
            raise BadResponse(name, "the request names no comment_id: the replies' parent is unknown")
        item_id = query.get("item_id") or query.get("aweme_id")
        content = (item_ids or {}).get(item_id, item_id) if item_id else None
        if content is None and parent:
            content = ((known_comments or {}).get(parent) or {}).get("platform_content_id")
        if not content:
            raise BadResponse(name, "the request names no item_id and its parent comment is not known: "
                                    "the comments' work is unknown")
        return parse_creator_comments(body, content_id=content, parent_id=parent)
    if name == "web_comment_list":
        return parse_web_comments(body, self_uid=self_uid)
    if name == "web_comment_reply_list":
        return parse_web_comments(body, self_uid=self_uid, parent_id=query.get("comment_id") or None)
    if name == "notice_detail":
        return parse_notice_detail(body, self_uid=self_uid)
    if name == "im_user_detail":
        return parse_user_detail(body)
    raise ValueError(f"no parser for endpoint {name!r}")
