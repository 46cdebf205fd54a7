"""The sandbox parsers on the site's own JSON (built by the site's wire module from a world)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from app.engine.records import CommentRecord, ContentRecord, ConversationRecord, MessageRecord
from app.platforms.sandbox import parsers
from app.platforms.sandbox.site import World, wire
from app.platforms.sandbox.site.state import person_for

ORIGIN = "http://127.0.0.1:9"
CREATOR = "测试创作者"


@pytest.fixture
def world() -> World:
    world = World()
    world.ensure_creator(CREATOR)
    return world


def _comments_body(world: World, comments) -> dict:
    return wire.ok(comments=[wire.comment(c, ORIGIN) for c in comments], cursor=len(comments), has_more=False)


def test_works_become_contents_with_publish_time_and_stats(world):
    creator = world.creator_by_name(CREATOR)
    body = wire.ok(works=[wire.work(creator, w, ORIGIN) for w in creator.works.values()], cursor=3, has_more=False)
    parsed = parsers.parse_response(f"{ORIGIN}/api/works?cursor=0&count=12", body)
    assert len(parsed.contents) == 3
    record = ContentRecord.model_validate(parsed.contents[0])
    work = next(iter(creator.works.values()))
    assert record.platform_content_id == work.work_id and record.title == work.title
    assert record.publish_at == datetime.fromtimestamp(int(work.create_time), tz=timezone.utc)
    assert record.stats["comment_count"] == creator.comment_count(work.work_id)
    assert record.cover_url.startswith(ORIGIN + "/covers/")


def test_comment_parents_follow_the_thread(world):
    creator = world.creator_by_name(CREATOR)
    work_id = next(iter(creator.works))
    top = world.inject_comment(CREATOR, "Lucas", "好看 😍", work_id=work_id)[1]
    ours = world.reply_as_creator(creator, work_id, top.cid, "谢谢！")
    nested = world.inject_comment(CREATOR, "Mia", "+1", reply_to=ours.cid)[1]
    parsed = parsers.parse_comments(_comments_body(world, [top, ours, nested]))
    records = {r["platform_comment_id"]: CommentRecord.model_validate(r) for r in parsed.comments}
    assert records[top.cid].parent_platform_comment_id is None
    assert records[ours.cid].parent_platform_comment_id == top.cid  # answers the thread's first comment
    assert records[nested.cid].parent_platform_comment_id == ours.cid  # answers the reply itself
    assert records[ours.cid].direction == "out" and records[top.cid].direction == "in"
    assert records[top.cid].author_name == "Lucas" and records[top.cid].text == "好看 😍"
    assert records[top.cid].created_at == datetime.fromtimestamp(int(top.create_time), tz=timezone.utc)
    assert records[top.cid].author_avatar == f"{ORIGIN}/avatars/{top.user.uid}.svg"


def test_dm_pages_become_messages_oldest_first_with_utc_times(world):
    creator = world.creator_by_name(CREATOR)
    peer = next(iter(creator.conversations.values())).peer
    conv, first = world.receive_dm(creator, peer, "第一条")
    mine = world.send_as_creator(creator, conv.conversation_id, "收到 👌")
    body = wire.ok(conversation_id=conv.conversation_id,
                   messages=[wire.message(m, ORIGIN) for m in reversed(conv.messages)], cursor=0, has_more=False)
    parsed = parsers.parse_response(f"{ORIGIN}/api/im/messages?conversation_id=x", body)
    ids = [m["platform_message_id"] for m in parsed.messages]
    assert ids[-2:] == [first.msg_id, mine.msg_id]
    record = MessageRecord.model_validate(parsed.messages[-1])
    assert record.direction == "out" and record.text == "收到 👌"
    assert abs(record.created_at.timestamp() - mine.created_at) < 0.001
    assert record.created_at.tzinfo is not None


def test_the_conversation_list_carries_peers_and_last_messages(world):
    creator = world.creator_by_name(CREATOR)
    body = wire.ok(conversations=[wire.conversation(c, ORIGIN) for c in creator.conversations.values()])
    parsed = parsers.parse_response(f"{ORIGIN}/api/im/conversations", body)
    assert len(parsed.conversations) == len(parsed.messages) == 2
    for record in parsed.conversations:
        ConversationRecord.model_validate(record)
    peers = {c.peer.nickname for c in creator.conversations.values()}
    assert {r["peer_name"] for r in parsed.conversations} == peers


def test_push_frames(world):
    creator, conv, message = world.inject_dm(CREATOR, "Lucas", "hi 👋")
    frame = {"type": "im_message", "conversation": wire.conversation(conv, ORIGIN),
             "message": wire.message(message, ORIGIN)}
    parsed = parsers.parse_push_frame(parsers.read_frame(json.dumps(frame, ensure_ascii=False)))
    assert [m["text"] for m in parsed.messages] == ["hi 👋"]
    assert parsed.conversations[0]["peer_name"] == "Lucas"
    assert not parsers.parse_push_frame(parsers.read_frame('{"type": "ping", "server_time_ms": 1}'))
    assert not parsers.parse_push_frame(parsers.read_frame(b"\x00not json"))
    assert not parsers.parse_push_frame(parsers.read_frame("[1, 2]"))
    assert parsers.is_session_expired_frame(parsers.read_frame('{"type": "session_expired"}'))


def test_error_bodies_sends_and_foreign_urls_give_no_records(world):
    assert not parsers.parse_response(f"{ORIGIN}/api/works", wire.error(8, "login required"))
    assert not parsers.parse_response(f"{ORIGIN}/api/works", ["not", "an", "object"])
    assert not parsers.is_data_url(f"{ORIGIN}/api/comments/reply")  # our own sends: the crawl reports them
    assert not parsers.is_data_url(f"{ORIGIN}/api/im/send")
    assert not parsers.is_data_url(f"{ORIGIN}/static/common.js")
    assert parsers.is_data_url(f"{ORIGIN}/api/comments/replies?cid=1")


def test_comment_notice_frames(world):
    creator = world.creator_by_name(CREATOR)
    work = next(iter(creator.works.values()))
    comment = world.add_comment(creator, work.work_id, person_for("小红"), "好看！")
    frame = {"type": "comment_notice", "work": wire.work(creator, work, ORIGIN), "comment": wire.comment(comment, ORIGIN)}
    parsed = parsers.parse_push_frame(parsers.read_frame(json.dumps(frame, ensure_ascii=False)))
    assert [c["text"] for c in parsed.comments] == ["好看！"]
    assert parsed.contents[0]["platform_content_id"] == work.work_id
    assert parsers.pushed_comment(frame)["cid"] == comment.cid
    assert parsers.pushed_comment({"type": "ping"}) is None
